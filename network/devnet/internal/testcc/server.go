package testcc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// maxMessageSize matches the shim's own CCaaS server limits (100 MiB).
const maxMessageSize = 100 * 1024 * 1024

// Server is testcc running as a chaincode-as-a-service gRPC server, the way a CCaaS chaincode
// runs next to a Fabric peer: it serves protos.Chaincode/Connect and speaks the shim's side of
// the protocol through shim.ChaincodeServer.
type Server struct {
	addr string
	gs   *grpc.Server

	stopOnce sync.Once
	done     chan struct{}
	mu       sync.Mutex
	serveErr error
}

// Start listens on address (for example "127.0.0.1:0" for a free port) and serves testcc until
// ctx is done or Stop is called. Addr reports the address actually bound.
func Start(ctx context.Context, address string) (*Server, error) {
	return StartChaincode(ctx, address, CCID, New())
}

// StartChaincode serves any shim chaincode cc as a CCaaS server registering as ccid; Start is
// StartChaincode with testcc.
func StartChaincode(ctx context.Context, address, ccid string, cc shim.Chaincode) (*Server, error) {
	if address == "" {
		return nil, errors.New("testcc: listen address must not be empty")
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", address)
	if err != nil {
		return nil, fmt.Errorf("testcc: listen on %s: %w", address, err)
	}
	gs := grpc.NewServer(
		// The same keepalive and size settings as the shim's own ChaincodeServer.Start.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Minute, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(maxMessageSize),
		grpc.MaxSendMsgSize(maxMessageSize),
		grpc.ConnectionTimeout(5*time.Second),
	)
	peer.RegisterChaincodeServer(gs, &shim.ChaincodeServer{
		CCID:     ccid,
		Address:  lis.Addr().String(),
		CC:       cc,
		TLSProps: shim.TLSProperties{Disabled: true},
	})
	s := &Server{addr: lis.Addr().String(), gs: gs, done: make(chan struct{})}
	go func() {
		err := gs.Serve(lis)
		s.mu.Lock()
		s.serveErr = err
		s.mu.Unlock()
		close(s.done)
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-s.done:
		}
	}()
	return s, nil
}

// Serve starts testcc as a CCaaS server on address and returns a function that stops it.
// Use Start instead when address has port 0 and the bound address is needed.
func Serve(ctx context.Context, address string) (stop func(), err error) {
	s, err := Start(ctx, address)
	if err != nil {
		return nil, err
	}
	return s.Stop, nil
}

// Addr returns the address the server listens on, host:port.
func (s *Server) Addr() string {
	return s.addr
}

// Stop stops the server abruptly, as if the chaincode process died: the listener closes and
// every open chaincode stream breaks. It waits until the server has stopped and is idempotent.
func (s *Server) Stop() {
	s.stopOnce.Do(s.gs.Stop)
	<-s.done
}

// Err returns the error with which the gRPC server stopped serving, nil while it runs or after
// a regular Stop.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(s.serveErr, grpc.ErrServerStopped) {
		return nil
	}
	return s.serveErr
}
