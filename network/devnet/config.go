package devnet

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"github.com/xborder/xborder/network/devnet/msp"
)

// DefaultChannel is the channel a devnet serves when Config.Channel is empty.
const DefaultChannel = "xborder"

// Defaults applied by Start to zero-valued Config fields.
const (
	// DefaultBatchTimeout is the longest a transaction waits in the orderer before its block is cut.
	DefaultBatchTimeout = 20 * time.Millisecond
	// DefaultMaxBatch is the largest number of transactions in one block.
	DefaultMaxBatch = 500
	// DefaultListenHost is the interface the peers listen on.
	DefaultListenHost = "127.0.0.1"
	// DefaultEndorsementTimeout bounds one chaincode simulation.
	DefaultEndorsementTimeout = 30 * time.Second
)

// Config describes a devnet. The zero value of every field except DataDir selects a default.
type Config struct {
	// DataDir holds the crypto material (DataDir/crypto), the ordering service's block store
	// (DataDir/orderer) and the peers' ledgers (DataDir/peers). A restart with the same DataDir
	// reopens them; a second devnet on a DataDir in use fails at once.
	DataDir string
	// Channel is the single application channel (default DefaultChannel).
	Channel string
	// Orgs are the organisations: every peer organisation gets one peer, the (single) orderer
	// organisation orders. Default msp.DefaultOrgs().
	Orgs []msp.OrgSpec
	// Chaincodes are the chaincodes defined on the channel.
	Chaincodes []ChaincodeDefinition
	// BatchTimeout is the orderer's batch timeout (default DefaultBatchTimeout).
	BatchTimeout time.Duration
	// MaxBatch is the orderer's maximum message count per block (default DefaultMaxBatch).
	MaxBatch int
	// CutWhenIdle makes the orderer cut a block as soon as no other transaction is expected,
	// instead of holding every block for BatchTimeout (see orderer.Config.Expecting): it holds
	// a batch while an endorsed transaction has not been submitted yet, or while no peer has
	// committed the last block. A lone write is then cut at once, and under load the
	// transactions that arrive while the peers commit share the next block (held for at most
	// BatchTimeout; xborder dev uses DefaultIdleBatchTimeout). Off by default, so that
	// BatchTimeout behaves as in Fabric.
	CutWhenIdle bool
	// ListenHost is the host the peers listen on (default DefaultListenHost).
	ListenHost string
	// BasePort is the port of the first peer; peer i listens on BasePort+i. Zero picks free ports.
	BasePort int
	// Plaintext disables TLS on the peers' listeners (TLS is on by default).
	Plaintext bool
	// CommitDelay holds, by MSP ID, how long after the ordering service cut a block that
	// organisation's peer commits it (missing or 0: as soon as it can). Each peer validates
	// and commits blocks on its own, as Fabric peers do; a delay reproduces a lagging peer,
	// whose reads are stale until it catches up. Change it at run time with
	// Network.SetCommitDelay; hold a peer still with Network.PausePeerCommits.
	CommitDelay map[string]time.Duration
}

// ChaincodeDefinition is a chaincode as committed on the channel by Fabric's lifecycle, plus
// where its chaincode-as-a-service server listens.
type ChaincodeDefinition struct {
	// Name is the chaincode name (namespace).
	Name string
	// Version is the definition's version (default "1.0").
	Version string
	// Sequence is the definition's sequence number (default 1).
	Sequence int64
	// EndorsementPolicy is a signature policy string such as "OR('BankMSP.peer','MerchantMSP.peer')";
	// "" selects Fabric's default, the majority of the channel's organisations.
	EndorsementPolicy string
	// Collections is a collections_config.json document: a file path, or the JSON itself when it
	// starts with '['. Empty means no private data collections.
	Collections string
	// Address is the host:port of the chaincode server. Empty defers attaching to
	// (*Network).AttachChaincode.
	Address string
	// TLS configures the connection to the chaincode server; nil dials in plaintext.
	TLS *tls.Config
}

// Option configures Start beyond Config.
type Option func(*options)

type options struct {
	logger             *slog.Logger
	endorsementTimeout time.Duration
	pvtRetention       time.Duration
}

// WithLogger sets the logger of the network (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithEndorsementTimeout bounds each chaincode simulation (default DefaultEndorsementTimeout).
func WithEndorsementTimeout(d time.Duration) Option {
	return func(o *options) { o.endorsementTimeout = d }
}

// WithPrivateDataRetention sets how long the private write set of an endorsed transaction is
// kept waiting for the transaction to be committed (default 10 minutes).
func WithPrivateDataRetention(d time.Duration) Option {
	return func(o *options) { o.pvtRetention = d }
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9.\-]*$`)
var ccNamePattern = regexp.MustCompile(`^[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*$`)

// withDefaults validates cfg and fills in its defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.DataDir == "" {
		return cfg, errors.New("devnet: config: DataDir is required")
	}
	if cfg.Channel == "" {
		cfg.Channel = DefaultChannel
	}
	if !namePattern.MatchString(cfg.Channel) {
		return cfg, fmt.Errorf("devnet: config: invalid channel name %q", cfg.Channel)
	}
	if len(cfg.Orgs) == 0 {
		cfg.Orgs = msp.DefaultOrgs()
	}
	if err := checkOrgs(cfg.Orgs); err != nil {
		return cfg, err
	}
	if err := checkCommitDelays(cfg.CommitDelay, cfg.Orgs); err != nil {
		return cfg, err
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = DefaultBatchTimeout
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.ListenHost == "" {
		cfg.ListenHost = DefaultListenHost
	}
	if cfg.BasePort < 0 || cfg.BasePort > 65535 {
		return cfg, fmt.Errorf("devnet: config: invalid base port %d", cfg.BasePort)
	}
	ccs, err := chaincodeDefaults(cfg.Chaincodes)
	if err != nil {
		return cfg, err
	}
	cfg.Chaincodes = ccs
	return cfg, nil
}

// checkOrgs checks that there is exactly one orderer organisation and some peer organisation.
func checkOrgs(orgs []msp.OrgSpec) error {
	orderers, peers := 0, 0
	for _, o := range orgs {
		if o.Orderer {
			orderers++
		} else {
			peers++
		}
	}
	if orderers != 1 || peers == 0 {
		return fmt.Errorf("devnet: config: need exactly one orderer organisation and at least one peer organisation, got %d and %d", orderers, peers)
	}
	return nil
}

// checkCommitDelays checks that every commit delay names a peer organisation and is not
// negative.
func checkCommitDelays(delays map[string]time.Duration, orgs []msp.OrgSpec) error {
	var peerOrgs []string
	for _, o := range orgs {
		if !o.Orderer {
			peerOrgs = append(peerOrgs, o.MSPID)
		}
	}
	for id, d := range delays {
		if !slices.Contains(peerOrgs, id) {
			return fmt.Errorf("devnet: config: CommitDelay names %q, which is not a peer organisation (%v)", id, peerOrgs)
		}
		if d < 0 {
			return fmt.Errorf("devnet: config: CommitDelay of %s is negative (%s)", id, d)
		}
	}
	return nil
}

// chaincodeDefaults validates the chaincode definitions' names and returns a copy with
// default versions and sequences filled in.
func chaincodeDefaults(defs []ChaincodeDefinition) ([]ChaincodeDefinition, error) {
	seen := map[string]bool{}
	ccs := make([]ChaincodeDefinition, len(defs))
	for i, cc := range defs {
		if !ccNamePattern.MatchString(cc.Name) {
			return nil, fmt.Errorf("devnet: config: invalid chaincode name %q", cc.Name)
		}
		if isSystemChaincode(cc.Name) {
			return nil, fmt.Errorf("devnet: config: chaincode name %q is reserved for a system chaincode", cc.Name)
		}
		if seen[cc.Name] {
			return nil, fmt.Errorf("devnet: config: chaincode %q defined twice", cc.Name)
		}
		seen[cc.Name] = true
		if cc.Version == "" {
			cc.Version = "1.0"
		}
		if cc.Sequence <= 0 {
			cc.Sequence = 1
		}
		ccs[i] = cc
	}
	return ccs, nil
}

func isSystemChaincode(name string) bool {
	switch name {
	case "qscc", "cscc", "_lifecycle", "lscc", "escc", "vscc":
		return true
	}
	return false
}
