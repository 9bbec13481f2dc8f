package ccruntime

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// connection is one attached chaincode: a gRPC client connection plus the current chaincode
// stream (session), re-established in the background whenever it breaks.
type connection struct {
	rt      *Runtime
	name    string
	address string
	cc      *grpc.ClientConn
	client  peer.ChaincodeClient

	ctx    context.Context
	cancel context.CancelFunc
	loopWG sync.WaitGroup

	mu      sync.Mutex
	sess    *session
	readyCh chan struct{} // closed when a session becomes ready; replaced when it ends
	lastErr error
	pkgID   string
	// registrations counts completed handshakes (1 after Attach, +1 per reconnection).
	registrations int
}

func newConnection(rt *Runtime, name, address string, tlsCfg *tls.Config) (*connection, error) {
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	cc, err := grpc.NewClient(address,
		grpc.WithTransportCredentials(creds),
		// Pings only while a stream is open, and no more often than the server permits (see
		// DefaultKeepaliveInterval).
		grpc.WithKeepaliveParams(rt.opts.keepalive),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  rt.opts.minReconnect,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   rt.opts.maxReconnect,
			},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxGRPCMessageSize), grpc.MaxCallSendMsgSize(maxGRPCMessageSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("create gRPC client: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &connection{
		rt:      rt,
		name:    name,
		address: address,
		cc:      cc,
		client:  peer.NewChaincodeClient(cc),
		ctx:     ctx,
		cancel:  cancel,
		readyCh: make(chan struct{}),
		lastErr: errors.New("not connected yet"),
	}, nil
}

func (c *connection) start() {
	c.loopWG.Add(1)
	go c.loop()
}

// close stops reconnecting, breaks the current stream and waits for the loop to exit.
func (c *connection) close() {
	c.cancel()
	c.loopWG.Wait()
	// Closing an already broken connection only reports that it was closed.
	_ = c.cc.Close()
}

func (c *connection) currentSession() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

func (c *connection) packageID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pkgID
}

// unavailable describes why there is no ready session.
func (c *connection) unavailable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Errorf("%w: chaincode %s at %s is not connected: %v", ErrChaincodeUnavailable, c.name, c.address, c.lastErr) //nolint:errorlint // the transport cause is context; callers match ErrChaincodeUnavailable only
}

// waitReady blocks until a session is ready or ctx ends.
func (c *connection) waitReady(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.sess != nil {
			c.mu.Unlock()
			return nil
		}
		ch := c.readyCh
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", c.unavailable(), ctx.Err())
		case <-c.ctx.Done():
			return fmt.Errorf("%w: detached", ErrChaincodeUnavailable)
		}
	}
}

// loop keeps one session alive until the connection is closed.
func (c *connection) loop() {
	defer c.loopWG.Done()
	log := c.rt.opts.logger.With("chaincode", c.name, "address", c.address)
	delay := c.rt.opts.minReconnect
	for {
		established, err := c.runSession()
		if c.ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		if established {
			log.Warn("chaincode stream ended, reconnecting", "err", err)
			delay = c.rt.opts.minReconnect
		} else {
			log.Debug("chaincode connection attempt failed", "err", err, "retryIn", delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return
		}
		if !established {
			delay = min(delay*2, c.rt.opts.maxReconnect)
		}
	}
}

// runSession opens a stream, performs the handshake and serves the stream until it breaks.
// established reports whether the handshake completed.
func (c *connection) runSession() (established bool, err error) {
	sctx, scancel := context.WithCancel(c.ctx)
	defer scancel()
	stream, err := c.client.Connect(sctx)
	if err != nil {
		return false, fmt.Errorf("open chaincode stream: %w", err)
	}
	s := newSession(c, stream, scancel)
	timer := time.AfterFunc(c.rt.opts.handshakeTimeout, scancel)
	pkgID, err := s.handshake()
	if !timer.Stop() {
		if err == nil {
			err = errors.New("stream cancelled")
		}
		err = fmt.Errorf("handshake timed out after %s: %w", c.rt.opts.handshakeTimeout, err)
	}
	if err != nil {
		s.terminate(err)
		return false, err
	}

	c.mu.Lock()
	c.sess = s
	c.pkgID = pkgID
	c.lastErr = nil
	c.registrations++
	close(c.readyCh)
	c.mu.Unlock()
	c.rt.opts.logger.Info("chaincode registered", "chaincode", c.name, "packageID", pkgID, "address", c.address)

	err = s.serve()

	c.mu.Lock()
	c.sess = nil
	c.readyCh = make(chan struct{})
	c.lastErr = err
	c.mu.Unlock()
	s.terminate(err)
	return true, err
}

// session is one chaincode stream in the ready state.
type session struct {
	conn   *connection
	stream grpc.BidiStreamingClient[peer.ChaincodeMessage, peer.ChaincodeMessage]
	cancel context.CancelFunc

	sendMu sync.Mutex

	mu   sync.Mutex
	txs  map[txKey]*txContext
	err  error
	done chan struct{}
	once sync.Once
}

type txKey struct{ channel, txID string }

func newSession(c *connection, stream grpc.BidiStreamingClient[peer.ChaincodeMessage, peer.ChaincodeMessage], cancel context.CancelFunc) *session {
	return &session{conn: c, stream: stream, cancel: cancel, txs: map[txKey]*txContext{}, done: make(chan struct{})}
}

// handshake receives REGISTER and answers REGISTERED then READY, as a peer's HandleRegister
// and sendReady do.
func (s *session) handshake() (string, error) {
	msg, err := s.stream.Recv()
	if err != nil {
		return "", fmt.Errorf("receive REGISTER: %w", err)
	}
	if msg.GetType() != peer.ChaincodeMessage_REGISTER {
		err := fmt.Errorf("[%s] Fabric side handler cannot handle message (%s) while in created state", msg.GetTxid(), msg.GetType())
		return "", err
	}
	id := &peer.ChaincodeID{}
	if err := proto.Unmarshal(msg.GetPayload(), id); err != nil {
		return "", fmt.Errorf("could not unmarshal registration info: %w", err)
	}
	if id.GetName() == "" {
		return "", errors.New("error in handling register chaincode, chaincodeID name is empty")
	}
	if want, ok := s.conn.rt.opts.expectedChaincodes[s.conn.name]; ok && want != id.GetName() {
		return "", fmt.Errorf("chaincode registered as %q, expected package ID %q", id.GetName(), want)
	}
	if err := s.send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_REGISTERED}); err != nil {
		return "", fmt.Errorf("send REGISTERED: %w", err)
	}
	o := s.conn.rt.opts
	params, err := proto.Marshal(&peer.ChaincodeAdditionalParams{
		UseWriteBatch:          o.useWriteBatch,
		MaxSizeWriteBatch:      o.maxWriteBatch,
		UseGetMultipleKeys:     o.useGetMultiple,
		MaxSizeGetMultipleKeys: o.maxGetMultiple,
	})
	if err != nil {
		return "", fmt.Errorf("marshal READY parameters: %w", err)
	}
	if err := s.send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_READY, Payload: params}); err != nil {
		return "", fmt.Errorf("send READY: %w", err)
	}
	return id.GetName(), nil
}

// send writes one message; gRPC streams need sends serialised.
func (s *session) send(msg *peer.ChaincodeMessage) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if err := s.stream.Send(msg); err != nil {
		return fmt.Errorf("[%s] error sending %s: %w", shortTxID(msg.GetTxid()), msg.GetType(), err)
	}
	return nil
}

// sendAsync sends a reply from the receive loop without blocking it.
func (s *session) sendAsync(msg *peer.ChaincodeMessage) {
	go func() {
		if err := s.send(msg); err != nil {
			s.conn.rt.opts.logger.Debug("send to chaincode failed", "chaincode", s.conn.name, "err", err)
		}
	}()
}

// serve is the receive loop of a ready session: it routes every message to the transaction it
// belongs to. It returns when the stream breaks or the chaincode violates the protocol.
func (s *session) serve() error {
	for {
		msg, err := s.stream.Recv()
		if err != nil {
			return fmt.Errorf("receive from chaincode stream failed: %w", err)
		}
		switch msg.GetType() {
		case peer.ChaincodeMessage_KEEPALIVE:
			continue
		case peer.ChaincodeMessage_COMPLETED, peer.ChaincodeMessage_ERROR:
			// A late answer to a transaction that timed out or was cancelled is dropped.
			s.route(msg)
		default:
			if !isStateRequest(msg.GetType()) {
				return fmt.Errorf("[%s] Fabric side handler cannot handle message (%s) while in ready state", msg.GetTxid(), msg.GetType())
			}
			found, delivered := s.route(msg)
			switch {
			case !found:
				s.sendAsync(errorReply(msg, errNoLedgerContext))
			case !delivered:
				s.sendAsync(errorReply(msg, errors.New("another request is pending for this transaction")))
			}
		}
	}
}

func isStateRequest(t peer.ChaincodeMessage_Type) bool {
	switch t {
	case peer.ChaincodeMessage_GET_STATE, peer.ChaincodeMessage_GET_STATE_MULTIPLE,
		peer.ChaincodeMessage_PUT_STATE, peer.ChaincodeMessage_DEL_STATE,
		peer.ChaincodeMessage_PURGE_PRIVATE_DATA, peer.ChaincodeMessage_WRITE_BATCH_STATE,
		peer.ChaincodeMessage_GET_STATE_BY_RANGE, peer.ChaincodeMessage_QUERY_STATE_NEXT,
		peer.ChaincodeMessage_QUERY_STATE_CLOSE, peer.ChaincodeMessage_GET_QUERY_RESULT,
		peer.ChaincodeMessage_GET_HISTORY_FOR_KEY, peer.ChaincodeMessage_GET_PRIVATE_DATA_HASH,
		peer.ChaincodeMessage_GET_STATE_METADATA, peer.ChaincodeMessage_PUT_STATE_METADATA,
		peer.ChaincodeMessage_INVOKE_CHAINCODE:
		return true
	default:
		return false
	}
}

// errNoLedgerContext answers requests for transactions the runtime is not executing (any
// more), as a peer does.
var errNoLedgerContext = errors.New("no ledger context")

// route hands msg to the transaction it belongs to. Routing and unregistering happen under
// the same lock, so no message reaches a transaction after it was unregistered.
func (s *session) route(msg *peer.ChaincodeMessage) (found, delivered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := s.txs[txKey{msg.GetChannelId(), msg.GetTxid()}]
	if tx == nil {
		return false, false
	}
	return true, tx.deliver(msg)
}

func (s *session) register(tx *txContext) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("%w: chaincode stream terminated: %v", ErrChaincodeUnavailable, s.err) //nolint:errorlint // the stream cause is context; callers match ErrChaincodeUnavailable only
	}
	k := txKey{tx.inv.ChannelID, tx.inv.TxID}
	if _, ok := s.txs[k]; ok {
		return fmt.Errorf("txid: %s(%s) exists", tx.inv.TxID, tx.inv.ChannelID)
	}
	s.txs[k] = tx
	return nil
}

// unregister removes tx from the session and answers the requests it left unserved (after a
// timeout or cancellation) with ERROR, so the chaincode's invocation does not wait forever.
func (s *session) unregister(tx *txContext) {
	s.mu.Lock()
	k := txKey{tx.inv.ChannelID, tx.inv.TxID}
	if s.txs[k] == tx {
		delete(s.txs, k)
	}
	s.mu.Unlock()
	for {
		select {
		case m := <-tx.msgs:
			if isStateRequest(m.GetType()) {
				s.sendAsync(errorReply(m, errNoLedgerContext))
			}
		default:
			return
		}
	}
}

// terminate ends the session: transactions waiting on it fail with ErrChaincodeUnavailable.
func (s *session) terminate(err error) {
	s.once.Do(func() {
		if err == nil {
			err = errors.New("stream closed")
		}
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		s.cancel()
		close(s.done)
	})
}

// terminationError is the error transactions see after the session ended.
func (s *session) terminationError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Errorf("%w: chaincode stream terminated: %v", ErrChaincodeUnavailable, s.err) //nolint:errorlint // the stream cause is context; callers match ErrChaincodeUnavailable only
}

func errorReply(req *peer.ChaincodeMessage, err error) *peer.ChaincodeMessage {
	return &peer.ChaincodeMessage{
		Type:      peer.ChaincodeMessage_ERROR,
		Payload:   fmt.Appendf(nil, "%s failed: transaction ID: %s: %v", req.GetType(), req.GetTxid(), err),
		Txid:      req.GetTxid(),
		ChannelId: req.GetChannelId(),
	}
}

func shortTxID(txID string) string {
	if len(txID) < 8 {
		return txID
	}
	return txID[:8]
}
