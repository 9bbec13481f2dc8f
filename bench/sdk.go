package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xborder/xborder/gateway/fabric"
	"github.com/xborder/xborder/network/devnet"
)

// SDKRetries is how many fresh proposals the SDK driver makes after an MVCC_READ_CONFLICT or
// a PHANTOM_READ_CONFLICT, the same bound the REST gateway of `xborder dev` uses, so both
// targets do the same work.
const SDKRetries = 3

// SDKStaleRetries is how many times the SDK driver sends an operation again after a stale read
// (NOT_FOUND or FAILED_PRECONDITION) or an endorsement mismatch, backing off from
// SDKStaleBackoff: on a network whose peers commit blocks on their own, the next step of an
// order may reach a peer that has not committed the previous one yet, and an application that
// talks to the peers directly has to retry it. The SDK cannot tell such an answer from a real
// one, so it retries both, blindly; the REST gateway retries only answers from peers it knows
// or suspects to be behind (gateway/fabric Consistency).
const SDKStaleRetries = 8

// SDKStaleBackoff is the SDK driver's first pause before retrying a stale read; it doubles at
// each retry, up to 500 ms.
const SDKStaleBackoff = 20 * time.Millisecond

// SDKPeer is one organisation's connection and client identity for the SDK driver.
type SDKPeer struct {
	// MSPID is the organisation.
	MSPID string
	// Conn is the gRPC connection to the organisation's peer.
	Conn *grpc.ClientConn
	// CertPath and KeyPath are the PEM files of the organisation's client user.
	CertPath, KeyPath string
}

// SDKDriver performs operations directly with the Fabric Gateway SDK, one SDK gateway per
// organisation, sending the same transactions (arguments, transient data) as the REST gateway
// does: both follow gateway.Operations.
type SDKDriver struct {
	contracts map[string]*client.Contract
	gateways  []*client.Gateway
	conns     []*grpc.ClientConn
	retries   retryCounts
}

var _ Driver = (*SDKDriver)(nil)

// NewSDKDriver connects the SDK as every organisation in peers to chaincode on channel. The
// driver closes the peers' connections in Close.
func NewSDKDriver(channel, chaincodeName string, peers []SDKPeer) (*SDKDriver, error) {
	d := &SDKDriver{contracts: map[string]*client.Contract{}}
	for _, p := range peers {
		d.conns = append(d.conns, p.Conn)
	}
	for _, p := range peers {
		id, sign, err := loadIdentity(p)
		if err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("sdk driver: %w", err)
		}
		gw, err := client.Connect(id,
			client.WithSign(sign),
			client.WithHash(hash.SHA256),
			client.WithClientConnection(p.Conn),
			client.WithEvaluateTimeout(30*time.Second),
			client.WithEndorseTimeout(30*time.Second),
			client.WithSubmitTimeout(30*time.Second),
			client.WithCommitStatusTimeout(time.Minute),
		)
		if err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("sdk driver: connect as %s: %w", p.MSPID, err)
		}
		d.gateways = append(d.gateways, gw)
		d.contracts[p.MSPID] = gw.GetNetwork(channel).GetContract(chaincodeName)
	}
	for _, org := range []string{MerchantMSP, BankMSP, CarrierMSP, CustomsMSP} {
		if d.contracts[org] == nil {
			_ = d.Close()
			return nil, fmt.Errorf("sdk driver: no peer or identity for %s", org)
		}
	}
	return d, nil
}

// NewSDKDriverForNetwork connects the SDK to a devnet running in this process, as each
// organisation's client user.
func NewSDKDriverForNetwork(n *devnet.Network, chaincodeName string) (*SDKDriver, error) {
	var peers []SDKPeer
	closeAll := func() {
		for _, p := range peers {
			_ = p.Conn.Close()
		}
	}
	for _, info := range n.Peers() {
		conn, err := n.ClientConnection(info.MSPID)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("sdk driver: %w", err)
		}
		peers = append(peers, SDKPeer{MSPID: info.MSPID, Conn: conn, CertPath: info.ClientCertPath, KeyPath: info.ClientKeyPath})
	}
	d, err := NewSDKDriver(n.Channel(), chaincodeName, peers)
	if err != nil {
		closeAll()
		return nil, err
	}
	return d, nil
}

// ConnectionFile is the file `xborder devnet` writes in its data directory with the channel,
// the chaincode and every peer's endpoint and identity files.
const ConnectionFile = "connection.json"

// ConnectionInfo is the content of ConnectionFile.
type ConnectionInfo struct {
	// Channel and Chaincode name what to call.
	Channel   string `json:"channel"`
	Chaincode string `json:"chaincode"`
	// Peers are the organisations' peers and client identity files.
	Peers []devnet.PeerInfo `json:"peers"`
}

// DialDevnet reads dir/connection.json (written by `xborder devnet --data dir`; also looked
// for in dir/devnet, where `xborder dev` keeps its devnet) and connects the SDK to every
// organisation's peer with TLS (trusting the organisation's TLS CA) or in plaintext, as the
// file says.
func DialDevnet(dir string) (*SDKDriver, error) {
	path := filepath.Join(dir, ConnectionFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if alt := filepath.Join(dir, "devnet", ConnectionFile); fileExists(alt) {
			path = alt
		}
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names the directory
	if err != nil {
		return nil, fmt.Errorf("sdk driver: read %s (written by `xborder devnet --data %s`): %w", path, dir, err)
	}
	var info ConnectionInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("sdk driver: parse %s: %w", path, err)
	}
	if info.Channel == "" || info.Chaincode == "" || len(info.Peers) == 0 {
		return nil, fmt.Errorf("sdk driver: %s lacks the channel, the chaincode or the peers", path)
	}
	var peers []SDKPeer
	for _, p := range info.Peers {
		conn, err := dialPeer(p)
		if err != nil {
			for _, q := range peers {
				_ = q.Conn.Close()
			}
			return nil, fmt.Errorf("sdk driver: %w", err)
		}
		peers = append(peers, SDKPeer{MSPID: p.MSPID, Conn: conn, CertPath: p.ClientCertPath, KeyPath: p.ClientKeyPath})
	}
	d, err := NewSDKDriver(info.Channel, info.Chaincode, peers)
	if err != nil {
		for _, q := range peers {
			_ = q.Conn.Close()
		}
		return nil, err
	}
	return d, nil
}

// dialPeer connects to a peer as the connection file describes it (TLS or plaintext).
func dialPeer(p devnet.PeerInfo) (*grpc.ClientConn, error) {
	o := fabric.DialOptions{Endpoint: p.Address}
	if p.TLS {
		o.TLSCACert, o.HostOverride = p.TLSCACertPath, p.Name
	}
	conn, err := fabric.Dial(o)
	if err != nil {
		return nil, fmt.Errorf("peer of %s: %w", p.MSPID, err)
	}
	return conn, nil
}

// loadIdentity loads the organisation's client identity and signer.
func loadIdentity(p SDKPeer) (*identity.X509Identity, identity.Sign, error) {
	cert, sign, err := fabric.LoadIdentity(p.CertPath, p.KeyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("identity of %s: %w", p.MSPID, err)
	}
	id, err := identity.NewX509Identity(p.MSPID, cert)
	if err != nil {
		return nil, nil, fmt.Errorf("identity of %s: %w", p.MSPID, err)
	}
	return id, sign, nil
}

// Name implements Driver.
func (d *SDKDriver) Name() string { return "sdk" }

// Close implements Driver.
func (d *SDKDriver) Close() error {
	var errs []error
	for _, gw := range d.gateways {
		errs = append(errs, gw.Close())
	}
	for _, c := range d.conns {
		errs = append(errs, c.Close())
	}
	d.gateways, d.conns = nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sdk driver: close: %w", err)
	}
	return nil
}

// Do implements Driver.
func (d *SDKDriver) Do(ctx context.Context, req Request) error {
	op, org, err := operation(req.Op)
	if err != nil {
		return err
	}
	body, err := req.body()
	if err != nil {
		return err
	}
	inv, err := op.Invocation(req.params(), body)
	if err != nil {
		return &CallError{Op: req.Op, Reason: "ENCODE", Err: err}
	}
	opts := []client.ProposalOption{client.WithBytesArguments(inv.Args...)}
	if len(inv.Transient) > 0 {
		opts = append(opts, client.WithTransient(inv.Transient))
	}
	contract := d.contracts[org]
	conflicts, stale := SDKRetries, SDKStaleRetries
	for n := 0; ; n++ {
		if op.Write {
			_, err = contract.SubmitWithContext(ctx, inv.Transaction, opts...)
		} else {
			_, err = contract.EvaluateWithContext(ctx, inv.Transaction, opts...)
		}
		if err == nil {
			return nil
		}
		reason := sdkRetryReason(err)
		budget := &stale
		if reason == retryMVCC || reason == retryPhantom {
			budget = &conflicts
		}
		if reason == "" || *budget == 0 || ctx.Err() != nil {
			return &CallError{Op: req.Op, Reason: sdkReason(err), Err: err}
		}
		*budget--
		d.retries.add(reason)
		if budget == &stale && !sleep(ctx, min(SDKStaleBackoff<<min(n, 10), 500*time.Millisecond)) {
			return &CallError{Op: req.Op, Reason: sdkReason(err), Err: err}
		}
	}
}

// Retries implements RetryCounter: the SDK driver's own retries, by reason.
func (d *SDKDriver) Retries() map[string]int64 { return d.retries.snapshot() }

// The retry reasons of the drivers, named as the REST gateway counts them
// (xborder_fabric_retries_total).
const (
	retryMVCC         = "mvcc_read_conflict"
	retryPhantom      = "phantom_read_conflict"
	retryMismatch     = "endorsement_mismatch"
	retryNotFound     = "stale_not_found"
	retryPrecondition = "stale_failed_precondition"
)

// sdkRetryReason says why an SDK error is worth sending the operation again ("" for no): a
// conflict with a concurrent write, endorsers that disagreed, or an answer that may come from a
// peer that has not committed the order's last write yet.
func sdkRetryReason(err error) string {
	var ce *client.CommitError
	if errors.As(err, &ce) {
		switch ce.Code {
		case peer.TxValidationCode_MVCC_READ_CONFLICT:
			return retryMVCC
		case peer.TxValidationCode_PHANTOM_READ_CONFLICT:
			return retryPhantom
		}
		return ""
	}
	if strings.Contains(fmt.Sprint(err, sdkMessages(err)), "ProposalResponsePayloads do not match") {
		return retryMismatch
	}
	switch sdkReason(err) {
	case "NOT_FOUND":
		return retryNotFound
	case "FAILED_PRECONDITION":
		return retryPrecondition
	}
	return ""
}

// sleep waits for d or until ctx ends, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// retryCounts counts retries by reason, safely for concurrent workers.
type retryCounts struct {
	mu sync.Mutex
	n  map[string]int64
}

func (r *retryCounts) add(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int64{}
	}
	r.n[reason]++
}

func (r *retryCounts) snapshot() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.n))
	for k, v := range r.n {
		out[k] = v
	}
	return out
}

// sdkReason classifies a Gateway SDK error: the chaincode's domain code if any message
// carries one, the validation code of a failed commit, else the phase and gRPC code.
func sdkReason(err error) string {
	var ce *client.CommitError
	if errors.As(err, &ce) {
		return ce.Code.String()
	}
	msgs := sdkMessages(err)
	st, _ := status.FromError(err)
	// Details come from several peers; pick a stable answer.
	sort.Strings(msgs)
	for _, m := range msgs {
		if c, ok := domainCode(m); ok {
			return c
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || st.Code() == codes.DeadlineExceeded {
		return "TIMEOUT"
	}
	if st.Code() == codes.Unavailable {
		return "UNAVAILABLE"
	}
	var ee *client.EndorseError
	var se *client.SubmitError
	var cse *client.CommitStatusError
	switch {
	case errors.As(err, &ee):
		return "ENDORSEMENT_FAILED"
	case errors.As(err, &se):
		return "SUBMIT_FAILED"
	case errors.As(err, &cse):
		return "COMMIT_STATUS_FAILED"
	}
	return ReasonOf(err)
}

// sdkMessages returns the per-peer messages of an SDK error (its ErrorDetails) and its gRPC
// status message.
func sdkMessages(err error) []string {
	var msgs []string
	st, _ := status.FromError(err)
	var te *client.TransactionError
	if errors.As(err, &te) {
		for _, d := range te.Details() {
			msgs = append(msgs, d.GetMessage())
		}
	} else {
		for _, d := range st.Details() {
			if ed, ok := d.(*gwproto.ErrorDetail); ok {
				msgs = append(msgs, ed.GetMessage())
			}
		}
	}
	return append(msgs, st.Message())
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
