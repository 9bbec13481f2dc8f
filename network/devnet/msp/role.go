// Package msp implements the devnet's membership service provider: organisation CAs and
// identities laid out on disk exactly like Fabric's cryptogen output, signing identities,
// and a Manager that deserialises and verifies msp.SerializedIdentity values with Fabric's
// NodeOU role semantics.
package msp

import (
	"fmt"

	mspproto "github.com/hyperledger/fabric-protos-go-apiv2/msp"
)

// Role is the role of an identity or the role a principal requires. Its values are those of
// mspproto.MSPRole_MSPRoleType so that conversions are lossless.
type Role int32

// Role values, numerically equal to mspproto.MSPRole_MSPRoleType.
const (
	// RoleMember matches any valid identity of an MSP; no certificate carries it as its own role.
	RoleMember Role = Role(mspproto.MSPRole_MEMBER)
	// RoleAdmin is an identity whose certificate carries the "admin" NodeOU.
	RoleAdmin Role = Role(mspproto.MSPRole_ADMIN)
	// RoleClient is an identity whose certificate carries the "client" NodeOU.
	RoleClient Role = Role(mspproto.MSPRole_CLIENT)
	// RolePeer is an identity whose certificate carries the "peer" NodeOU.
	RolePeer Role = Role(mspproto.MSPRole_PEER)
	// RoleOrderer is an identity whose certificate carries the "orderer" NodeOU.
	RoleOrderer Role = Role(mspproto.MSPRole_ORDERER)
)

// NodeOU organisational unit names, as written into certificates and config.yaml.
const (
	OUClient  = "client"
	OUPeer    = "peer"
	OUAdmin   = "admin"
	OUOrderer = "orderer"
)

// String returns the lower-case role name used in policy strings ("member", "admin", ...).
func (r Role) String() string {
	switch r {
	case RoleMember:
		return "member"
	case RoleAdmin:
		return OUAdmin
	case RoleClient:
		return OUClient
	case RolePeer:
		return OUPeer
	case RoleOrderer:
		return OUOrderer
	default:
		return fmt.Sprintf("role(%d)", int32(r))
	}
}

// Proto returns the role as Fabric's MSPRole_MSPRoleType.
func (r Role) Proto() mspproto.MSPRole_MSPRoleType {
	return mspproto.MSPRole_MSPRoleType(r)
}

// Satisfies reports whether an identity holding role r satisfies a principal that requires
// role required. As in Fabric, every valid identity satisfies RoleMember.
func (r Role) Satisfies(required Role) bool {
	return required == RoleMember || r == required
}

// ParseRole converts a policy role name (member, admin, client, peer, orderer) to a Role.
func ParseRole(name string) (Role, error) {
	switch name {
	case "member":
		return RoleMember, nil
	case OUAdmin:
		return RoleAdmin, nil
	case OUClient:
		return RoleClient, nil
	case OUPeer:
		return RolePeer, nil
	case OUOrderer:
		return RoleOrderer, nil
	default:
		return 0, fmt.Errorf("msp: unknown role %q (want member, admin, client, peer or orderer)", name)
	}
}

// roleFromOUs maps a certificate's organisational units to its NodeOU role. Fabric requires
// exactly one of the four NodeOU values.
func roleFromOUs(ous []string) (Role, error) {
	found := make([]Role, 0, 1)
	for _, ou := range ous {
		switch ou {
		case OUClient:
			found = append(found, RoleClient)
		case OUPeer:
			found = append(found, RolePeer)
		case OUAdmin:
			found = append(found, RoleAdmin)
		case OUOrderer:
			found = append(found, RoleOrderer)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return 0, fmt.Errorf("msp: identity has none of the NodeOUs client, peer, admin, orderer (OUs %v)", ous)
	default:
		return 0, fmt.Errorf("msp: identity must be a client, a peer, an orderer or an admin, not a combination (OUs %v)", ous)
	}
}
