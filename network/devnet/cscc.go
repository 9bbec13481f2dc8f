package devnet

import (
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"

	"github.com/xborder/xborder/network/devnet/txutil"
)

// csccName is the name of Fabric's configuration system chaincode.
const csccName = "cscc"

// The read-only functions of Fabric's configuration system chaincode (cscc) the devnet serves.
const (
	csccGetConfigBlock   = "GetConfigBlock"
	csccGetChannelConfig = "GetChannelConfig"
	csccGetChannels      = "GetChannels"
)

// evaluateCSCC runs a proposal for the configuration system chaincode: the channel's config
// block, its configuration and the list of channels. Joining channels is not supported: the
// devnet has exactly one.
func (p *peerNode) evaluateCSCC(prop *txutil.Proposal) (*peer.Response, *peerFailure) {
	if f := p.checkProposal(prop); f != nil {
		return nil, f
	}
	resp := p.cscc(prop.Input().GetArgs())
	if resp.GetStatus() >= 400 {
		return nil, &peerFailure{codes.Unknown, fmt.Sprintf("chaincode response %d, %s", resp.GetStatus(), resp.GetMessage())}
	}
	return resp, nil
}

// cscc answers a configuration system chaincode call from the peer's ledger.
func (p *peerNode) cscc(args [][]byte) *peer.Response {
	n := p.net
	if len(args) < 1 {
		return qsccError(fmt.Sprintf("Incorrect number of arguments, %d", len(args)))
	}
	fname := string(args[0])
	if fname != csccGetChannels && len(args) < 2 {
		return qsccError(fmt.Sprintf("Incorrect number of arguments, %d", len(args)))
	}
	switch fname {
	case csccGetConfigBlock:
		if string(args[1]) != n.cfg.Channel {
			return qsccError(fmt.Sprintf("Unknown channel ID, %s", string(args[1])))
		}
		block, err := p.ledger.Block(p.ledger.LastConfigIndex())
		if err != nil {
			return qsccError(err.Error())
		}
		return qsccSuccess(block)
	case csccGetChannelConfig:
		if len(args[1]) == 0 {
			return qsccError("empty channel name provided")
		}
		if string(args[1]) != n.cfg.Channel {
			return qsccError(fmt.Sprintf("unknown channel ID, %s", string(args[1])))
		}
		cfg, err := p.channelConfig()
		if err != nil {
			return qsccError(err.Error())
		}
		return qsccSuccess(cfg)
	case csccGetChannels:
		return qsccSuccess(&peer.ChannelQueryResponse{Channels: []*peer.ChannelInfo{{ChannelId: n.cfg.Channel}}})
	}
	return qsccError(fmt.Sprintf("Requested function %s not found.", fname))
}

// channelConfig returns the configuration in the last config block the peer committed.
func (p *peerNode) channelConfig() (*common.Config, error) {
	block, err := p.ledger.Block(p.ledger.LastConfigIndex())
	if err != nil {
		return nil, fmt.Errorf("read config block: %w", err)
	}
	return configOf(block)
}
