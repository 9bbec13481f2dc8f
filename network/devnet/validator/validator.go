// Package validator performs the commit-time checks of Fabric's committing peer on one
// transaction envelope: structure and header sanity, the creator's signature, the transaction
// ID, the proposal hash binding, endorsement signatures and the endorsement policies of every
// namespace, private data collection and key (key-level policies) written, including Fabric's
// rule that a key whose key-level policy an earlier valid transaction of the block changed
// cannot be written. MVCC and duplicate transaction IDs are the ledger's job.
package validator

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/policy"
)

// ImplicitCollectionPrefix is the name prefix of Fabric's implicit per-organisation collections
// ("_implicit_org_<MSPID>").
const ImplicitCollectionPrefix = "_implicit_org_"

// Chaincode is a chaincode definition as the validator needs it.
type Chaincode struct {
	// Name is the chaincode name (its namespace).
	Name string
	// EndorsementPolicy is the chaincode endorsement policy; nil means the channel's default
	// /Channel/Application/Endorsement (MAJORITY of the application organisations' peers).
	EndorsementPolicy *common.SignaturePolicyEnvelope
	// Collections is the chaincode's private data collection configuration.
	Collections []policy.Collection
}

// Config configures a Validator.
type Config struct {
	// ChannelID is the channel whose transactions are validated.
	ChannelID string
	// MSP verifies creators and endorsers.
	MSP *msp.Manager
	// ApplicationOrgs are the MSP IDs of the channel's application organisations; they define
	// /Channel/Application/Endorsement (MAJORITY) and /Channel/Application/<Org>/Endorsement.
	ApplicationOrgs []string
	// Chaincodes are the chaincodes defined on the channel.
	Chaincodes []Chaincode
	// State reads committed key metadata for key-level (state-based) endorsement policies;
	// nil means no key has a key-level policy.
	State StateMetadata
}

// StateMetadata reads the committed metadata of keys, as the devnet ledger stores it: a
// marshalled kvrwset.KVMetadataWrite (entries only), nil if the key has none or does not exist.
type StateMetadata interface {
	// PublicMetadata returns the metadata of key in namespace ns.
	PublicMetadata(ns, key string) ([]byte, error)
	// PrivateMetadata returns the metadata of the private key with hash keyHash in collection
	// coll of namespace ns.
	PrivateMetadata(ns, coll string, keyHash []byte) ([]byte, error)
}

// MetadataFuncs adapts two functions to StateMetadata.
type MetadataFuncs struct {
	// Public implements PublicMetadata; nil means no public key has metadata.
	Public func(ns, key string) ([]byte, error)
	// Private implements PrivateMetadata; nil means no private key has metadata.
	Private func(ns, coll string, keyHash []byte) ([]byte, error)
}

// PublicMetadata implements StateMetadata.
func (f MetadataFuncs) PublicMetadata(ns, key string) ([]byte, error) {
	if f.Public == nil {
		return nil, nil
	}
	return f.Public(ns, key)
}

// PrivateMetadata implements StateMetadata.
func (f MetadataFuncs) PrivateMetadata(ns, coll string, keyHash []byte) ([]byte, error) {
	if f.Private == nil {
		return nil, nil
	}
	return f.Private(ns, coll, keyHash)
}

// StateError reports that committed state could not be read during validation. Fabric halts
// the channel on such errors instead of invalidating the transaction.
type StateError struct {
	Err error
}

// Error implements error.
func (e *StateError) Error() string {
	return "validator: could not read committed state: " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *StateError) Unwrap() error {
	return e.Err
}

type ccDef struct {
	name        string
	ep          *common.SignaturePolicyEnvelope
	collections map[string]*policy.Collection
}

// Validator validates transactions of one channel. It is safe for concurrent use.
type Validator struct {
	channelID string
	mgr       *msp.Manager
	appOrgs   []string
	majority  *common.SignaturePolicyEnvelope
	// orgEndorsement holds /Channel/Application/<Org>/Endorsement, OR('<Org>.peer'), per org.
	orgEndorsement map[string]*common.SignaturePolicyEnvelope
	state          StateMetadata

	mu         sync.RWMutex
	chaincodes map[string]*ccDef
}

// New returns a validator for cfg.
func New(cfg Config) (*Validator, error) {
	if cfg.ChannelID == "" {
		return nil, errors.New("validator: empty channel ID")
	}
	if cfg.MSP == nil {
		return nil, errors.New("validator: nil MSP manager")
	}
	if len(cfg.ApplicationOrgs) == 0 {
		return nil, errors.New("validator: no application organisations")
	}
	v := &Validator{
		channelID:  cfg.ChannelID,
		mgr:        cfg.MSP,
		appOrgs:    append([]string(nil), cfg.ApplicationOrgs...),
		majority:   policy.MajorityOf(cfg.ApplicationOrgs),
		state:      cfg.State,
		chaincodes: map[string]*ccDef{},

		orgEndorsement: map[string]*common.SignaturePolicyEnvelope{},
	}
	for _, o := range cfg.ApplicationOrgs {
		env, err := policy.Parse("OR('" + o + ".peer')")
		if err != nil {
			return nil, fmt.Errorf("validator: endorsement policy of organisation %s: %w", o, err)
		}
		v.orgEndorsement[o] = env
	}
	for _, cc := range cfg.Chaincodes {
		if err := v.Define(cc); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Define adds or replaces a chaincode definition.
func (v *Validator) Define(cc Chaincode) error {
	if cc.Name == "" {
		return errors.New("validator: define chaincode: empty name")
	}
	def := &ccDef{name: cc.Name, ep: cc.EndorsementPolicy, collections: map[string]*policy.Collection{}}
	if def.ep == nil {
		def.ep = v.majority
	} else if err := policy.Validate(def.ep); err != nil {
		return fmt.Errorf("validator: define chaincode %s: %w", cc.Name, err)
	}
	for i := range cc.Collections {
		c := cc.Collections[i]
		if err := c.Prepare(); err != nil {
			return fmt.Errorf("validator: define chaincode %s: %w", cc.Name, err)
		}
		if _, dup := def.collections[c.Name]; dup {
			return fmt.Errorf("validator: define chaincode %s: duplicate collection %s", cc.Name, c.Name)
		}
		def.collections[c.Name] = &c
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.chaincodes[cc.Name] = def
	return nil
}

func (v *Validator) chaincode(name string) *ccDef {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.chaincodes[name]
}

// Validate validates one transaction envelope and returns its transaction ID (empty if the
// channel header cannot be read) and its validation code.
func (v *Validator) Validate(env *common.Envelope) (txID string, code peer.TxValidationCode) {
	txID, err := v.Check(env)
	return txID, CodeOf(err)
}

// ValidateBytes is Validate for a marshalled envelope, as found in block data. Bytes that are
// not an envelope are INVALID_OTHER_REASON, as in Fabric.
func (v *Validator) ValidateBytes(data []byte) (txID string, code peer.TxValidationCode) {
	txID, _, err := v.checkBytes(data, v.state)
	return txID, CodeOf(err)
}

// ValidateBlock validates every transaction of a block (in parallel) and returns their
// transaction IDs and validation codes in block order, reading key-level endorsement policies
// from Config.State. A failure to read the state marks the affected transactions
// INVALID_OTHER_REASON; use ValidateBlockWithState to get the error instead.
func (v *Validator) ValidateBlock(block *common.Block) (txIDs []string, codes []peer.TxValidationCode) {
	res, _ := v.ValidateBlockWithState(block, v.state)
	return res.TxIDs, res.Codes
}

// BlockResult is the outcome of validating a block, in block order.
type BlockResult struct {
	TxIDs []string
	Codes []peer.TxValidationCode
	// Reasons says why each transaction is not VALID (nil for VALID ones), for logs.
	Reasons []error
	// Txs are the unpacked endorser transactions (nil for other transactions and for those
	// that could not be unpacked).
	Txs []*EndorserTx
}

// ValidateBlockWithState is ValidateBlock reading key-level endorsement policies from st (nil:
// none). As in Fabric, a transaction that writes a key whose key-level policy was changed by an
// earlier valid transaction of the same block is ENDORSEMENT_POLICY_FAILURE. The result is
// always complete; the error is a *StateError if the state could not be read (the transactions
// concerned are then INVALID_OTHER_REASON).
func (v *Validator) ValidateBlockWithState(block *common.Block, st StateMetadata) (*BlockResult, error) {
	data := block.GetData().GetData()
	txIDs := make([]string, len(data))
	codes := make([]peer.TxValidationCode, len(data))
	txs := make([]*EndorserTx, len(data))
	errs := make([]error, len(data))
	workers := runtime.GOMAXPROCS(0)
	if workers > len(data) {
		workers = len(data)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				txIDs[i], txs[i], errs[i] = v.checkBytes(data[i], st)
				codes[i] = CodeOf(errs[i])
			}
		}()
	}
	for i := range data {
		next <- i
	}
	close(next)
	wg.Wait()

	var stateErr error
	for _, err := range errs {
		var se *StateError
		if errors.As(err, &se) && stateErr == nil {
			stateErr = se
		}
	}
	// Key-level policy dependencies inside the block, in block order.
	updated := map[string]bool{}
	for i, tx := range txs {
		if codes[i] != peer.TxValidationCode_VALID || tx == nil {
			continue
		}
		if key, hit := writesAny(tx, updated); hit {
			codes[i] = peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE
			errs[i] = codeErr(peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE,
				"validation parameter of %s was updated by an earlier transaction of the block", key)
			continue
		}
		for _, k := range metadataWrites(tx) {
			updated[k] = true
		}
	}
	return &BlockResult{TxIDs: txIDs, Codes: codes, Reasons: errs, Txs: txs}, stateErr
}

func keyID(ns, coll, key string) string {
	return ns + "\x00" + coll + "\x00" + key
}

// metadataWrites lists the keys whose metadata (and so key-level policy) tx changes.
func metadataWrites(tx *EndorserTx) []string {
	var out []string
	for _, ns := range tx.NsRWSets {
		for _, mw := range ns.KV.GetMetadataWrites() {
			out = append(out, keyID(ns.Namespace, "", mw.GetKey()))
		}
		for _, c := range ns.Collections {
			for _, mw := range c.Hashed.GetMetadataWrites() {
				out = append(out, keyID(ns.Namespace, c.Name, string(mw.GetKeyHash())))
			}
		}
	}
	return out
}

// writesAny reports whether tx writes (or writes metadata of) a key in set.
func writesAny(tx *EndorserTx, set map[string]bool) (string, bool) {
	if len(set) == 0 {
		return "", false
	}
	var hit string
	for _, ns := range tx.NsRWSets {
		found := ns.eachWrittenKey(func(coll, key string) error {
			if !set[keyID(ns.Namespace, coll, key)] {
				return nil
			}
			if coll == "" {
				hit = ns.Namespace + "/" + key
			} else {
				hit = fmt.Sprintf("%s/%s/%x", ns.Namespace, coll, key)
			}
			return errFound
		})
		if found != nil {
			return hit, true
		}
	}
	return "", false
}

// errFound stops an eachWrittenKey walk early.
var errFound = errors.New("found")

func (v *Validator) checkBytes(data []byte, st StateMetadata) (string, *EndorserTx, error) {
	if data == nil {
		return "", nil, codeErr(peer.TxValidationCode_NIL_ENVELOPE, "nil envelope")
	}
	env := &common.Envelope{}
	if err := proto.Unmarshal(data, env); err != nil {
		return "", nil, codeErr(peer.TxValidationCode_INVALID_OTHER_REASON, "unmarshal envelope: %v", err)
	}
	return v.check(env, st)
}

// Check validates one envelope like Validate and returns the reason for rejection as an error
// carrying the validation code (see CodeOf); nil means VALID.
func (v *Validator) Check(env *common.Envelope) (string, error) {
	txID, _, err := v.check(env, v.state)
	return txID, err
}

func (v *Validator) check(env *common.Envelope, st StateMetadata) (string, *EndorserTx, error) {
	h, err := UnpackHeader(env)
	if err != nil {
		return "", nil, err
	}
	chdr, shdr := h.ChannelHeader, h.SignatureHeader
	txID := chdr.TxId
	if common.HeaderType(chdr.Type) == common.HeaderType_CONFIG {
		// The devnet's only configuration transaction is the genesis block's, which is not
		// validated by a committing peer.
		if chdr.ChannelId != v.channelID {
			return txID, nil, codeErr(peer.TxValidationCode_TARGET_CHAIN_NOT_FOUND, "config for unknown channel %q", chdr.ChannelId)
		}
		return txID, nil, nil
	}
	if err := checkCommonHeader(h); err != nil {
		return txID, nil, err
	}
	creator, err := v.mgr.DeserializeAt(shdr.Creator, time.Time{})
	if err != nil {
		return txID, nil, &CodeError{Code: peer.TxValidationCode_BAD_CREATOR_SIGNATURE, Err: fmt.Errorf("creator certificate is not valid: %w", err)}
	}
	if err := creator.Verify(env.Payload, env.Signature); err != nil {
		return txID, nil, &CodeError{Code: peer.TxValidationCode_BAD_CREATOR_SIGNATURE, Err: fmt.Errorf("creator's signature over the transaction is not valid: %w", err)}
	}
	if common.HeaderType(chdr.Type) != common.HeaderType_ENDORSER_TRANSACTION {
		return txID, nil, codeErr(peer.TxValidationCode_UNSUPPORTED_TX_PAYLOAD, "unsupported transaction type %s", common.HeaderType(chdr.Type))
	}
	if want := ComputeTxID(shdr.Nonce, shdr.Creator); chdr.TxId != want {
		return txID, nil, codeErr(peer.TxValidationCode_BAD_PROPOSAL_TXID, "invalid txID. It must be [%s], got [%s]", want, chdr.TxId)
	}
	tx, err := unpackTransaction(env, h)
	if err != nil {
		return txID, nil, err
	}
	if chdr.ChannelId != v.channelID {
		return txID, nil, codeErr(peer.TxValidationCode_TARGET_CHAIN_NOT_FOUND, "transaction for unknown channel %q", chdr.ChannelId)
	}
	if err := tx.unpackAction(); err != nil {
		return txID, nil, err
	}
	if err := v.checkAction(tx, creator, st); err != nil {
		return txID, nil, err
	}
	return txID, tx, nil
}

// checkAction performs the checks of Fabric's validation dispatcher and its default
// validation plugin.
func (v *Validator) checkAction(tx *EndorserTx, creator *msp.Principal, st StateMetadata) error {
	ccID, err := checkActionHeader(tx)
	if err != nil {
		return err
	}
	order, err := namespacesToValidate(tx, ccID)
	if err != nil {
		return err
	}
	var endorsers []*msp.Principal
	endorsersDone := false
	for _, ns := range order {
		def := v.chaincode(ns)
		if def == nil {
			return codeErr(peer.TxValidationCode_INVALID_CHAINCODE, "chaincode %s is not defined on channel %s", ns, v.channelID)
		}
		if !endorsersDone {
			endorsers = v.validEndorsers(tx)
			endorsersDone = true
		}
		if err := v.checkNamespace(tx, ns, def, endorsers, st); err != nil {
			return err
		}
		if err := checkMemberOnlyWrite(tx, ns, def, creator); err != nil {
			return err
		}
	}
	return nil
}

// checkActionHeader checks the chaincode IDs of the header extension and the action and the
// chaincode event, and returns the invoked chaincode.
func checkActionHeader(tx *EndorserTx) (string, error) {
	if tx.HeaderExtension.ChaincodeId == nil {
		return "", codeErr(peer.TxValidationCode_INVALID_OTHER_REASON, "nil ChaincodeId in header extension")
	}
	if tx.Action.ChaincodeId == nil {
		return "", codeErr(peer.TxValidationCode_INVALID_OTHER_REASON, "nil ChaincodeId in ChaincodeAction")
	}
	ccID := tx.HeaderExtension.ChaincodeId.Name
	if ccID == "" {
		return "", codeErr(peer.TxValidationCode_INVALID_CHAINCODE, "invalid chaincode ID")
	}
	if ccID != tx.Action.ChaincodeId.Name {
		return "", codeErr(peer.TxValidationCode_INVALID_CHAINCODE, "inconsistent ccid info (%s/%s)", ccID, tx.Action.ChaincodeId.Name)
	}
	if tx.Action.ChaincodeId.Version == "" {
		return "", codeErr(peer.TxValidationCode_INVALID_CHAINCODE, "invalid chaincode version")
	}
	if err := tx.unpackEvent(); err != nil {
		return "", err
	}
	if tx.Event != nil && tx.Event.ChaincodeId != ccID {
		return "", codeErr(peer.TxValidationCode_INVALID_OTHER_REASON, "chaincode event chaincode id does not match chaincode action chaincode id")
	}
	return ccID, nil
}

// namespacesToValidate returns the namespaces whose policies apply: the invoked chaincode
// first, then the other namespaces written, by name. A namespace present twice in the
// read-write set is ILLEGAL_WRITESET.
func namespacesToValidate(tx *EndorserTx, ccID string) ([]string, error) {
	written := map[string]bool{ccID: true}
	seen := map[string]bool{}
	for _, ns := range tx.NsRWSets {
		if seen[ns.Namespace] {
			return nil, codeErr(peer.TxValidationCode_ILLEGAL_WRITESET, "duplicate namespace '%s' in txRWSet", ns.Namespace)
		}
		seen[ns.Namespace] = true
		if ns.Writes() {
			written[ns.Namespace] = true
		}
	}
	order := make([]string, 0, len(written))
	for ns := range written {
		if ns != ccID {
			order = append(order, ns)
		}
	}
	sort.Strings(order)
	return append([]string{ccID}, order...), nil
}

// validEndorsers turns the endorsements into the identities that count for policy evaluation,
// as Fabric does: endorsers that cannot be deserialised are skipped, an identity is counted
// once, and endorsements whose signature over (proposal response payload || endorser) does not
// verify are skipped.
func (v *Validator) validEndorsers(tx *EndorserTx) []*msp.Principal {
	var out []*msp.Principal
	seen := map[string]bool{}
	prp := tx.ResponsePayloadBytes
	for _, e := range tx.Endorsements {
		if e == nil {
			continue
		}
		p, err := v.mgr.DeserializeAt(e.Endorser, time.Time{})
		if err != nil || seen[p.ID] {
			continue
		}
		data := make([]byte, 0, len(prp)+len(e.Endorser))
		data = append(data, prp...)
		data = append(data, e.Endorser...)
		if p.Verify(data, e.Signature) != nil {
			continue
		}
		seen[p.ID] = true
		out = append(out, p)
	}
	return out
}

// checkNamespace evaluates, as Fabric's default validation plugin does, the policy of every key
// the namespace's writes touch: the key-level policy if the key has one, else the endorsement
// policy of its collection if that has one, else the chaincode endorsement policy; each
// collection or chaincode policy is evaluated once, and the chaincode policy at least once if no
// other policy was.
func (v *Validator) checkNamespace(tx *EndorserTx, ns string, def *ccDef, endorsers []*msp.Principal, st StateMetadata) error {
	nc := &nsCheck{v: v, tx: tx, ns: ns, def: def, endorsers: endorsers, st: st, checked: map[string]bool{}}
	for _, set := range tx.NsRWSets {
		if set.Namespace != ns {
			continue
		}
		if err := set.eachWrittenKey(nc.checkKey); err != nil {
			return err
		}
	}
	if !nc.someChecked {
		return nc.checkCC()
	}
	return nil
}

// nsCheck is the state of checkNamespace: the policies already evaluated.
type nsCheck struct {
	v         *Validator
	tx        *EndorserTx
	ns        string
	def       *ccDef
	endorsers []*msp.Principal
	st        StateMetadata
	// checked holds the collections ("" for the chaincode) whose policy was satisfied.
	checked     map[string]bool
	someChecked bool
}

// checkCC evaluates the chaincode endorsement policy, once.
func (c *nsCheck) checkCC() error {
	if c.checked[""] {
		return nil
	}
	if !policy.SatisfiedByPrincipals(c.def.ep, c.v.mgr, c.endorsers) {
		return codeErr(peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE,
			"validation of endorsement policy for chaincode %s in tx %s failed: %s not satisfied by %s",
			c.ns, c.tx.TxID(), policy.Format(c.def.ep), describe(c.endorsers))
	}
	c.checked[""], c.someChecked = true, true
	return nil
}

// checkColl evaluates the endorsement policy of collection coll ("" for public state), once:
// the chaincode's if the collection has none of its own.
func (c *nsCheck) checkColl(coll string) error {
	if coll == "" {
		return c.checkCC()
	}
	if c.checked[coll] {
		return nil
	}
	ep, err := c.v.collectionEP(c.def, coll)
	if err != nil {
		return &CodeError{Code: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, Err: err}
	}
	if ep == nil {
		return c.checkCC()
	}
	if !policy.SatisfiedByPrincipals(ep, c.v.mgr, c.endorsers) {
		return codeErr(peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE,
			"validation of endorsement policy for collection %s chaincode %s in tx %s failed: %s not satisfied by %s",
			coll, c.ns, c.tx.TxID(), policy.Format(ep), describe(c.endorsers))
	}
	c.checked[coll], c.someChecked = true, true
	return nil
}

// checkKey evaluates the policy governing a written key: its key-level policy if it has one,
// else its collection's.
func (c *nsCheck) checkKey(coll, key string) error {
	vp, err := keyPolicy(c.st, c.ns, coll, key)
	if err != nil {
		return err
	}
	if vp == nil {
		return c.checkColl(coll)
	}
	if !policy.SatisfiedByPrincipals(vp, c.v.mgr, c.endorsers) {
		return codeErr(peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE,
			"validation of key %q (coll'%s':ns'%s') in tx %s failed: %s not satisfied by %s",
			key, coll, c.ns, c.tx.TxID(), policy.Format(vp), describe(c.endorsers))
	}
	c.someChecked = true
	return nil
}

// keyPolicy returns the committed key-level endorsement policy (VALIDATION_PARAMETER metadata)
// of a key, nil if it has none. For private keys, key is the key hash.
func keyPolicy(st StateMetadata, ns, coll, key string) (*common.SignaturePolicyEnvelope, error) {
	if st == nil {
		return nil, nil
	}
	var md []byte
	var err error
	if coll == "" {
		md, err = st.PublicMetadata(ns, key)
	} else {
		md, err = st.PrivateMetadata(ns, coll, []byte(key))
	}
	if err != nil {
		return nil, &StateError{Err: fmt.Errorf("metadata of %s/%s/%q: %w", ns, coll, key, err)}
	}
	if len(md) == 0 {
		return nil, nil
	}
	entries := &kvrwset.KVMetadataWrite{}
	if err := proto.Unmarshal(md, entries); err != nil {
		return nil, &StateError{Err: fmt.Errorf("metadata of %s/%s/%q: %w", ns, coll, key, err)}
	}
	for _, e := range entries.GetEntries() {
		if e.GetName() != validationParameter || len(e.GetValue()) == 0 {
			continue
		}
		env := &common.SignaturePolicyEnvelope{}
		if err := proto.Unmarshal(e.GetValue(), env); err != nil {
			return nil, codeErr(peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, "could not translate policy for %s/%s/%q: %v", ns, coll, key, err)
		}
		if err := policy.Validate(env); err != nil {
			return nil, codeErr(peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, "could not translate policy for %s/%s/%q: %v", ns, coll, key, err)
		}
		return env, nil
	}
	return nil, nil
}

// validationParameter is the metadata key of a key-level endorsement policy.
var validationParameter = peer.MetaDataKeys_VALIDATION_PARAMETER.String()

// CollectionPolicy returns the endorsement policy validation applies to a write, without a
// key-level policy, to collection coll of chaincode ns: the collection's own policy or policy
// reference (an implicit collection's is its organisation's Endorsement policy,
// OR('<Org>.peer')), nil when the chaincode's endorsement policy applies. It fails for a
// chaincode or collection that is not defined.
func (v *Validator) CollectionPolicy(ns, coll string) (*common.SignaturePolicyEnvelope, error) {
	def := v.chaincode(ns)
	if def == nil {
		return nil, fmt.Errorf("chaincode %s is not defined on channel %s", ns, v.channelID)
	}
	return v.collectionEP(def, coll)
}

// collectionEP returns the collection-level endorsement policy of a collection, nil if the
// chaincode's applies, or an error if the collection is not defined.
func (v *Validator) collectionEP(def *ccDef, name string) (*common.SignaturePolicyEnvelope, error) {
	if org, ok := strings.CutPrefix(name, ImplicitCollectionPrefix); ok {
		return v.resolveReference("/Channel/Application/" + org + "/Endorsement")
	}
	c := def.collections[name]
	if c == nil {
		return nil, fmt.Errorf("no such collection '%s' in chaincode %s", name, def.name)
	}
	if c.EndorsementPolicyRef != "" {
		return v.resolveReference(c.EndorsementPolicyRef)
	}
	ep, err := c.EndorsementEnvelope()
	if err != nil {
		return nil, err
	}
	return ep, nil
}

// resolveReference resolves the channel config policy references the devnet's channel
// configuration defines: /Channel/Application/Endorsement (MAJORITY of the application
// organisations' Endorsement policies) and /Channel/Application/<Org>/Endorsement
// (OR('<Org>.peer')).
func (v *Validator) resolveReference(ref string) (*common.SignaturePolicyEnvelope, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(ref, "/"), "Channel/")
	parts := strings.Split(path, "/")
	switch {
	case len(parts) == 2 && parts[0] == "Application" && parts[1] == "Endorsement":
		return v.majority, nil
	case len(parts) == 3 && parts[0] == "Application" && parts[2] == "Endorsement":
		if env, ok := v.orgEndorsement[parts[1]]; ok {
			return env, nil
		}
		return nil, fmt.Errorf("policy reference %q names an organisation that is not in the channel", ref)
	default:
		return nil, fmt.Errorf("unsupported channel config policy reference %q", ref)
	}
}

// checkMemberOnlyWrite rejects a transaction whose creator writes to a collection with
// memberOnlyWrite that the creator's organisation is not a member of. Fabric's peer enforces
// this while simulating; the devnet also enforces it at commit.
func checkMemberOnlyWrite(tx *EndorserTx, ns string, def *ccDef, creator *msp.Principal) error {
	for _, set := range tx.NsRWSets {
		if set.Namespace != ns {
			continue
		}
		for _, coll := range set.Collections {
			c := def.collections[coll.Name]
			if c == nil || !c.MemberOnlyWrite || !coll.Writes() {
				continue
			}
			if !c.IsMember(creator.MSPID) {
				return codeErr(peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE,
					"tx creator of %s does not have write access permission on private data in chaincode %s collection %s",
					creator.MSPID, ns, coll.Name)
			}
		}
	}
	return nil
}

func describe(ids []*msp.Principal) string {
	if len(ids) == 0 {
		return "no valid endorsement"
	}
	parts := make([]string, len(ids))
	for i, p := range ids {
		parts[i] = p.MSPID + "." + p.Role.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
