package devnet

import (
	"fmt"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xborder/xborder/network/devnet/msp"
)

// isWriter reports whether id satisfies the channel's /Channel/Application/Writers policy:
// an admin or client of an application organisation.
func (n *Network) isWriter(id *msp.Principal) bool {
	return slices.Contains(n.peerOrgs, id.MSPID) && (id.Role == msp.RoleClient || id.Role == msp.RoleAdmin)
}

// isReader reports whether id satisfies the channel's /Channel/Application/Readers policy:
// an admin, peer or client of an application organisation.
func (n *Network) isReader(id *msp.Principal) bool {
	return slices.Contains(n.peerOrgs, id.MSPID) && (id.Role == msp.RoleClient || id.Role == msp.RoleAdmin || id.Role == msp.RolePeer)
}

// checkReader checks a signed request against the channel's Readers policy: a valid
// signature by a member of one of the channel's organisations.
func (n *Network) checkReader(channel string, identity, msg, sig []byte) error {
	if channel != n.cfg.Channel {
		return status.Errorf(codes.NotFound, "channel '%s' not found", channel)
	}
	id, err := n.mgr.Authenticate(identity, msg, sig)
	if err == nil && !n.isReader(id) {
		err = fmt.Errorf("identity of %s with role %s is not a reader of the channel", id.MSPID, id.Role)
	}
	if err != nil {
		return status.Errorf(codes.PermissionDenied, "failed evaluating policy on signed data during check policy on channel [%s] with policy [/Channel/Application/Readers]: %v", channel, err)
	}
	return nil
}
