package devnet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/txutil"
)

// deliverTimeWindow is how far a deliver request's timestamp may be from the peer's clock
// (Fabric's peer.authentication.timewindow default).
const deliverTimeWindow = 15 * time.Minute

// deliverServer is one peer's peer.Deliver service: committed blocks, filtered blocks and
// blocks with private data, streamed from a seek position as Fabric's deliver handler does.
type deliverServer struct {
	peer.UnimplementedDeliverServer
	p *peerNode
}

// deliverStream is what the three deliver services' streams have in common.
type deliverStream interface {
	Context() context.Context
	Recv() (*common.Envelope, error)
	Send(*peer.DeliverResponse) error
}

// sender sends one block in the stream's format. withReader, when set, returns the block
// sender for an authenticated requester (for per-reader content).
type sender struct {
	block      func(*common.Block) error
	withReader func(*msp.Principal) func(*common.Block) error
}

// Deliver streams full blocks.
func (d *deliverServer) Deliver(srv peer.Deliver_DeliverServer) error {
	return d.p.deliver(srv, sender{
		block: func(b *common.Block) error {
			return srv.Send(&peer.DeliverResponse{Type: &peer.DeliverResponse_Block{Block: b}})
		},
	})
}

// DeliverFiltered streams filtered blocks: transaction IDs, types, validation codes and
// chaincode events without payloads.
func (d *deliverServer) DeliverFiltered(srv peer.Deliver_DeliverFilteredServer) error {
	return d.p.deliver(srv, sender{
		block: func(b *common.Block) error {
			fb, err := d.p.filteredBlock(b)
			if err != nil {
				return err
			}
			return srv.Send(&peer.DeliverResponse{Type: &peer.DeliverResponse_FilteredBlock{FilteredBlock: fb}})
		},
	})
}

// DeliverWithPrivateData streams blocks with the private write sets of the collections the
// requester's identity is a member of.
func (d *deliverServer) DeliverWithPrivateData(srv peer.Deliver_DeliverWithPrivateDataServer) error {
	return d.p.deliver(srv, sender{
		withReader: func(reader *msp.Principal) func(*common.Block) error {
			return func(b *common.Block) error {
				pvt, err := d.p.privateDataFor(b, reader)
				if err != nil {
					return err
				}
				return srv.Send(&peer.DeliverResponse{Type: &peer.DeliverResponse_BlockAndPrivateData{
					BlockAndPrivateData: &peer.BlockAndPrivateData{Block: b, PrivateDataMap: pvt},
				}})
			}
		},
	})
}

// deliver serves a deliver stream from the peer's ledger: every received envelope carries a
// SeekInfo; its blocks are sent, followed by a status message. A non-SUCCESS status ends the
// stream.
func (p *peerNode) deliver(srv deliverStream, out sender) error {
	n := p.net
	ctx, cancel := n.withShutdown(srv.Context())
	defer cancel()
	type received struct {
		env *common.Envelope
		err error
	}
	for {
		// Receive in the background so that a shutdown ends a stream idle between requests
		// (the receiving goroutine ends with the stream, when this handler returns).
		ch := make(chan received, 1)
		go func() {
			env, err := srv.Recv()
			ch <- received{env, err}
		}()
		var r received
		select {
		case r = <-ch:
		case <-ctx.Done():
			if n.shutdown.Err() != nil {
				return status.Error(codes.Unavailable, "the peer is shutting down")
			}
			return status.FromContextError(ctx.Err()).Err()
		}
		env, err := r.env, r.err
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		st, err := p.deliverBlocks(ctx, env, out)
		if err != nil {
			return err
		}
		sendErr := srv.Send(&peer.DeliverResponse{Type: &peer.DeliverResponse_Status{Status: st}})
		if st != common.Status_SUCCESS || sendErr != nil {
			return sendErr
		}
	}
}

// deliverBlocks answers one SeekInfo request: it checks the request, then sends the blocks
// from its start to its stop position. The status ends the reply; an error ends the stream.
func (p *peerNode) deliverBlocks(ctx context.Context, env *common.Envelope, out sender) (common.Status, error) {
	seek, reader, st := p.net.checkSeekRequest(env)
	if st != common.Status_SUCCESS {
		return st, nil
	}
	sendBlock := out.block
	if out.withReader != nil {
		sendBlock = out.withReader(reader)
	}
	start, stop, st := p.seekRange(seek)
	if st != common.Status_SUCCESS {
		return st, nil
	}
	return p.sendBlocks(ctx, seek, start, stop, sendBlock)
}

// checkSeekRequest unpacks a deliver request as Fabric's deliver handler does: a well-formed
// payload for this channel, a timestamp within deliverTimeWindow, a SeekInfo, and a creator
// that signed it and satisfies the channel's Readers policy.
func (n *Network) checkSeekRequest(env *common.Envelope) (*orderer.SeekInfo, *msp.Principal, common.Status) {
	payload := &common.Payload{}
	if err := proto.Unmarshal(env.GetPayload(), payload); err != nil || payload.GetHeader() == nil {
		return nil, nil, common.Status_BAD_REQUEST
	}
	chdr := &common.ChannelHeader{}
	if err := proto.Unmarshal(payload.GetHeader().GetChannelHeader(), chdr); err != nil {
		return nil, nil, common.Status_BAD_REQUEST
	}
	shdr := &common.SignatureHeader{}
	if err := proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), shdr); err != nil {
		return nil, nil, common.Status_BAD_REQUEST
	}
	if ts := chdr.GetTimestamp(); ts != nil {
		if d := time.Since(ts.AsTime()); d > deliverTimeWindow || d < -deliverTimeWindow {
			return nil, nil, common.Status_BAD_REQUEST
		}
	}
	if chdr.GetChannelId() != n.cfg.Channel {
		return nil, nil, common.Status_NOT_FOUND
	}
	seek := &orderer.SeekInfo{}
	if err := proto.Unmarshal(payload.GetData(), seek); err != nil {
		return nil, nil, common.Status_BAD_REQUEST
	}
	reader, err := n.mgr.Authenticate(shdr.GetCreator(), env.GetPayload(), env.GetSignature())
	if err != nil || !n.isReader(reader) {
		return nil, nil, common.Status_FORBIDDEN
	}
	return seek, reader, common.Status_SUCCESS
}

// seekRange resolves a SeekInfo's start and stop positions to block numbers.
func (p *peerNode) seekRange(seek *orderer.SeekInfo) (start, stop uint64, st common.Status) {
	if seek.GetStart() == nil || seek.GetStop() == nil {
		return 0, 0, common.Status_BAD_REQUEST
	}
	height := p.ledger.Height()
	switch pos := seek.GetStart().GetType().(type) {
	case *orderer.SeekPosition_Oldest:
		start = 0
	case *orderer.SeekPosition_Newest:
		start = height - 1
	case *orderer.SeekPosition_Specified:
		start = pos.Specified.GetNumber()
		if start > height {
			return 0, 0, common.Status_NOT_FOUND
		}
	case *orderer.SeekPosition_NextCommit:
		start = height
	default:
		return 0, 0, common.Status_BAD_REQUEST
	}
	stop, st = p.seekStop(seek, start)
	return start, stop, st
}

// seekStop resolves a SeekInfo's stop position, given its start block number.
func (p *peerNode) seekStop(seek *orderer.SeekInfo, start uint64) (uint64, common.Status) {
	switch pos := seek.GetStop().GetType().(type) {
	case *orderer.SeekPosition_Oldest:
		return start, common.Status_SUCCESS
	case *orderer.SeekPosition_Newest:
		if proto.Equal(seek.GetStart(), seek.GetStop()) {
			return start, common.Status_SUCCESS
		}
		return p.ledger.Height() - 1, common.Status_SUCCESS
	case *orderer.SeekPosition_Specified:
		if pos.Specified.GetNumber() < start {
			return 0, common.Status_BAD_REQUEST
		}
		return pos.Specified.GetNumber(), common.Status_SUCCESS
	case *orderer.SeekPosition_NextCommit:
		return p.ledger.Height(), common.Status_SUCCESS
	default:
		return 0, common.Status_BAD_REQUEST
	}
}

// sendBlocks sends blocks start..stop, waiting for those not yet committed unless the request
// says FAIL_IF_NOT_READY.
func (p *peerNode) sendBlocks(ctx context.Context, seek *orderer.SeekInfo, start, stop uint64, sendBlock func(*common.Block) error) (common.Status, error) {
	it := p.ledger.Blocks(start)
	for {
		if seek.GetBehavior() == orderer.SeekInfo_FAIL_IF_NOT_READY && it.Position() > p.ledger.Height()-1 {
			return common.Status_NOT_FOUND, nil
		}
		block, err := it.Next(ctx)
		if err != nil {
			return p.net.waitFailure(ctx, err)
		}
		send := block
		if seek.GetContentType() == orderer.SeekInfo_HEADER_WITH_SIG && !isConfigBlock(block) {
			send = &common.Block{Header: block.GetHeader(), Metadata: block.GetMetadata()}
		}
		if err := sendBlock(send); err != nil {
			return common.Status_INTERNAL_SERVER_ERROR, err
		}
		if block.GetHeader().GetNumber() == stop {
			return common.Status_SUCCESS, nil
		}
	}
}

// waitFailure maps an error waiting for the next block to the status that ends the reply.
func (n *Network) waitFailure(ctx context.Context, err error) (common.Status, error) {
	switch {
	case n.shutdown.Err() != nil:
		return common.Status_SERVICE_UNAVAILABLE, nil
	case ctx.Err() != nil:
		return common.Status_INTERNAL_SERVER_ERROR, status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, ledger.ErrClosed):
		return common.Status_SERVICE_UNAVAILABLE, nil
	default:
		return common.Status_INTERNAL_SERVER_ERROR, nil
	}
}

func isConfigBlock(b *common.Block) bool {
	if len(b.GetData().GetData()) != 1 {
		return false
	}
	tx, err := txutil.UnpackEnvelopeBytes(b.GetData().GetData()[0])
	return err == nil && tx.HeaderType() == common.HeaderType_CONFIG
}

// filteredBlock returns the filtered form of a block the peer committed; a recent block's is
// built once for all the peers and streams that deliver it.
func (p *peerNode) filteredBlock(b *common.Block) (*peer.FilteredBlock, error) {
	channel := p.net.cfg.Channel
	ob := p.net.orderer.blocks.peek(b.GetHeader().GetNumber())
	if ob != nil && bytes.Equal(ob.block.GetHeader().GetDataHash(), b.GetHeader().GetDataHash()) {
		return ob.filteredBlock(channel, b)
	}
	return txutil.FilteredBlock(channel, b)
}
