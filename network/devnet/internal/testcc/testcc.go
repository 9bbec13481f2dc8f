// Package testcc is a tiny chaincode written on the plain Fabric shim (no contract API) that
// exercises every part of the peer/chaincode protocol the devnet implements: public state,
// composite keys with pagination, history, private data and its hashes, key-level validation
// parameters, events, write batches, multi-key reads and the error paths.
//
// It runs in-process as chaincode-as-a-service (see Start and Serve), exactly as a CCaaS
// chaincode runs next to a Fabric peer, so the devnet and its tests drive it over real gRPC.
package testcc

import (
	_ "embed" // collections_config.json
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Name is the chaincode name (the ledger namespace) under which tests deploy testcc.
const Name = "testcc"

// CCID is the package ID the CCaaS server announces in its REGISTER message, in Fabric's
// "label:hash" form.
const CCID = "testcc_1.0:5e3c0f1e6c7b1d2a9f4e8b7c6d5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a"

// ItemObjectType is the composite-key object type of the records written by putItem and listed
// by page and items.
const ItemObjectType = "item"

// TransientValueKey is the transient-map entry from which putPrivate takes the private value.
const TransientValueKey = "value"

// CollectionsConfig is testcc's collections_config.json (Fabric's format): privA for
// MerchantMSP and BankMSP (member-only read and write), privB for CarrierMSP and CustomsMSP
// (readable and writable by any creator).
//
//go:embed collections_config.json
var CollectionsConfig []byte

// KV is one key/value pair in the JSON results of range, items and page.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Page is the JSON result of page and rangePage.
type Page struct {
	Records             []KV   `json:"records"`
	FetchedRecordsCount int32  `json:"fetchedRecordsCount"`
	Bookmark            string `json:"bookmark"`
}

// Modification is one entry of the JSON result of history.
type Modification struct {
	TxID      string `json:"txId"`
	Value     string `json:"value"`
	IsDelete  bool   `json:"isDelete"`
	Timestamp string `json:"timestamp"`
}

// TxInfo is the JSON result of txinfo.
type TxInfo struct {
	TxID      string `json:"txId"`
	ChannelID string `json:"channelId"`
	Timestamp string `json:"timestamp"`
	Creator   string `json:"creatorMspId"`
}

type chaincode struct{}

// New returns the test chaincode. Its functions (first argument) are:
//
//	put(key, value)            get(key)                 del(key)
//	putGet(key, value)         -> the committed value of key (own writes are invisible)
//	putMany(k1, v1, k2, v2...) (one write batch)        getMany(k1, k2, ...) -> JSON array
//	incr(key)                  -> the new counter value (read-modify-write)
//	range(start, end)          -> JSON []KV
//	rangePage(start, end, pageSize, bookmark) -> JSON Page
//	putItem(prefix, id, value) (composite key item~prefix~id)
//	items(prefix)              -> JSON []KV keyed by id
//	page(prefix, pageSize, bookmark) -> JSON Page keyed by id
//	history(key)               -> JSON []Modification
//	putPrivate(coll, key)      (value from transient "value")
//	getPrivate(coll, key)      getPrivateHash(coll, key) -> raw SHA-256
//	getPrivateMany(coll, k1, k2, ...) -> JSON array   privateRange(coll, start, end) -> JSON []KV
//	delPrivate(coll, key)      purgePrivate(coll, key)
//	setValidation(key, policyBytes)  getValidation(key)
//	setPrivateValidation(coll, key, policyBytes)  getPrivateValidation(coll, key)
//	event(name, payload)       fail(message)            rich(query)
//	call(chaincode, args...)   sleep(milliseconds)      txinfo() -> JSON TxInfo
func New() shim.Chaincode {
	return chaincode{}
}

// Init implements shim.Chaincode; testcc needs no initialisation.
func (chaincode) Init(shim.ChaincodeStubInterface) *peer.Response {
	return shim.Success(nil)
}

type handler struct {
	minArgs int
	fn      func(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response
}

var handlers = map[string]handler{
	"put":                  {2, put},
	"update":               {2, update},
	"get":                  {1, get},
	"del":                  {1, del},
	"putGet":               {2, putGet},
	"putMany":              {0, putMany},
	"getMany":              {0, getMany},
	"incr":                 {1, incr},
	"range":                {2, rangeQuery},
	"rangePage":            {4, rangePage},
	"putItem":              {3, putItem},
	"items":                {1, items},
	"page":                 {3, page},
	"history":              {1, history},
	"putPrivate":           {2, putPrivate},
	"getPrivate":           {2, getPrivate},
	"getPrivateHash":       {2, getPrivateHash},
	"getPrivateMany":       {1, getPrivateMany},
	"privateRange":         {3, privateRange},
	"delPrivate":           {2, delPrivate},
	"purgePrivate":         {2, purgePrivate},
	"setValidation":        {2, setValidation},
	"getValidation":        {1, getValidation},
	"setPrivateValidation": {3, setPrivateValidation},
	"getPrivateValidation": {2, getPrivateValidation},
	"event":                {2, event},
	"fail":                 {1, fail},
	"rich":                 {1, rich},
	"call":                 {1, call},
	"sleep":                {1, sleep},
	"txinfo":               {0, txinfo},
}

// Invoke implements shim.Chaincode and dispatches on the first argument.
func (chaincode) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	args := stub.GetArgs()
	if len(args) == 0 {
		return shim.Error("INVALID_ARGUMENT: missing function name")
	}
	name := string(args[0])
	h, ok := handlers[name]
	if !ok {
		return shim.Error(fmt.Sprintf("INVALID_ARGUMENT: unknown function %q", name))
	}
	if len(args)-1 < h.minArgs {
		return shim.Error(fmt.Sprintf("INVALID_ARGUMENT: %s needs at least %d arguments, got %d", name, h.minArgs, len(args)-1))
	}
	return h.fn(stub, args[1:])
}

func errorf(format string, a ...any) *peer.Response {
	return shim.Error(fmt.Sprintf(format, a...))
}

func jsonResponse(v any) *peer.Response {
	b, err := json.Marshal(v)
	if err != nil {
		return errorf("INTERNAL: marshal result: %v", err)
	}
	return shim.Success(b)
}

func put(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	if err := stub.PutState(string(args[0]), args[1]); err != nil {
		return errorf("put %s: %v", args[0], err)
	}
	return shim.Success(nil)
}

// update replaces the value of an existing key; a key that does not exist is NOT_FOUND, as a
// lifecycle step on an order its peer has not seen yet.
func update(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	key := string(args[0])
	cur, err := stub.GetState(key)
	if err != nil {
		return errorf("get %s: %v", key, err)
	}
	if cur == nil {
		return errorf("NOT_FOUND: %s does not exist", key)
	}
	if err := stub.PutState(key, args[1]); err != nil {
		return errorf("put %s: %v", key, err)
	}
	return shim.Success(nil)
}

func get(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	v, err := stub.GetState(string(args[0]))
	if err != nil {
		return errorf("get %s: %v", args[0], err)
	}
	return shim.Success(v)
}

func del(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	if err := stub.DelState(string(args[0])); err != nil {
		return errorf("del %s: %v", args[0], err)
	}
	return shim.Success(nil)
}

func putGet(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	key := string(args[0])
	if err := stub.PutState(key, args[1]); err != nil {
		return errorf("put %s: %v", key, err)
	}
	v, err := stub.GetState(key)
	if err != nil {
		return errorf("get %s: %v", key, err)
	}
	return shim.Success(v)
}

func putMany(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	if len(args)%2 != 0 {
		return errorf("INVALID_ARGUMENT: putMany needs key/value pairs, got %d arguments", len(args))
	}
	stub.StartWriteBatch()
	for i := 0; i < len(args); i += 2 {
		if err := stub.PutState(string(args[i]), args[i+1]); err != nil {
			return errorf("put %s: %v", args[i], err)
		}
	}
	return shim.Success(nil)
}

func stringsOf(args [][]byte) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

func optionalStrings(values [][]byte) []*string {
	out := make([]*string, len(values))
	for i, v := range values {
		if v != nil {
			s := string(v)
			out[i] = &s
		}
	}
	return out
}

func getMany(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	values, err := stub.GetMultipleStates(stringsOf(args)...)
	if err != nil {
		return errorf("getMany: %v", err)
	}
	return jsonResponse(optionalStrings(values))
}

func incr(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	key := string(args[0])
	cur, err := stub.GetState(key)
	if err != nil {
		return errorf("get %s: %v", key, err)
	}
	n := int64(0)
	if len(cur) > 0 {
		if n, err = strconv.ParseInt(string(cur), 10, 64); err != nil {
			return errorf("FAILED_PRECONDITION: %s does not hold a counter: %v", key, err)
		}
	}
	next := []byte(strconv.FormatInt(n+1, 10))
	if err := stub.PutState(key, next); err != nil {
		return errorf("put %s: %v", key, err)
	}
	return shim.Success(next)
}

type kvIterator interface {
	HasNext() bool
	Close() error
}

func drain(it shim.StateQueryIteratorInterface, keyOf func(string) (string, error)) ([]KV, error) {
	defer closeQuietly(it)
	out := []KV{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("next: %w", err)
		}
		key, err := keyOf(kv.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, KV{Key: key, Value: string(kv.Value)})
	}
	return out, nil
}

func closeQuietly(it kvIterator) {
	// Close only releases the peer-side iterator; a failure leaves nothing to undo.
	_ = it.Close()
}

func identity(k string) (string, error) { return k, nil }

func itemID(stub shim.ChaincodeStubInterface) func(string) (string, error) {
	return func(k string) (string, error) {
		_, attrs, err := stub.SplitCompositeKey(k)
		if err != nil {
			return "", fmt.Errorf("split composite key: %w", err)
		}
		if len(attrs) != 2 {
			return "", fmt.Errorf("composite key %q has %d attributes, want 2", k, len(attrs))
		}
		return attrs[1], nil
	}
}

func rangeQuery(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	it, err := stub.GetStateByRange(string(args[0]), string(args[1]))
	if err != nil {
		return errorf("range: %v", err)
	}
	kvs, err := drain(it, identity)
	if err != nil {
		return errorf("range: %v", err)
	}
	return jsonResponse(kvs)
}

func parsePageSize(b []byte) (int32, error) {
	n, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("INVALID_ARGUMENT: page size %q: %w", b, err)
	}
	return int32(n), nil
}

func pageResult(it shim.StateQueryIteratorInterface, md *peer.QueryResponseMetadata, keyOf func(string) (string, error)) *peer.Response {
	kvs, err := drain(it, keyOf)
	if err != nil {
		return errorf("page: %v", err)
	}
	return jsonResponse(Page{Records: kvs, FetchedRecordsCount: md.GetFetchedRecordsCount(), Bookmark: md.GetBookmark()})
}

func rangePage(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	size, err := parsePageSize(args[2])
	if err != nil {
		return shim.Error(err.Error())
	}
	it, md, err := stub.GetStateByRangeWithPagination(string(args[0]), string(args[1]), size, string(args[3]))
	if err != nil {
		return errorf("rangePage: %v", err)
	}
	return pageResult(it, md, identity)
}

func putItem(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	key, err := stub.CreateCompositeKey(ItemObjectType, []string{string(args[0]), string(args[1])})
	if err != nil {
		return errorf("INVALID_ARGUMENT: %v", err)
	}
	if err := stub.PutState(key, args[2]); err != nil {
		return errorf("putItem: %v", err)
	}
	return shim.Success(nil)
}

func items(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	it, err := stub.GetStateByPartialCompositeKey(ItemObjectType, []string{string(args[0])})
	if err != nil {
		return errorf("items: %v", err)
	}
	kvs, err := drain(it, itemID(stub))
	if err != nil {
		return errorf("items: %v", err)
	}
	return jsonResponse(kvs)
}

func page(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	size, err := parsePageSize(args[1])
	if err != nil {
		return shim.Error(err.Error())
	}
	it, md, err := stub.GetStateByPartialCompositeKeyWithPagination(ItemObjectType, []string{string(args[0])}, size, string(args[2]))
	if err != nil {
		return errorf("page: %v", err)
	}
	return pageResult(it, md, itemID(stub))
}

func history(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	it, err := stub.GetHistoryForKey(string(args[0]))
	if err != nil {
		return errorf("history: %v", err)
	}
	defer closeQuietly(it)
	out := []Modification{}
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return errorf("history: next: %v", err)
		}
		ts := ""
		if m.GetTimestamp() != nil {
			ts = m.GetTimestamp().AsTime().UTC().Format(time.RFC3339Nano)
		}
		out = append(out, Modification{TxID: m.GetTxId(), Value: string(m.GetValue()), IsDelete: m.GetIsDelete(), Timestamp: ts})
	}
	return jsonResponse(out)
}

func putPrivate(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	transient, err := stub.GetTransient()
	if err != nil {
		return errorf("putPrivate: transient: %v", err)
	}
	value, ok := transient[TransientValueKey]
	if !ok {
		return errorf("INVALID_ARGUMENT: putPrivate needs the private value in transient entry %q", TransientValueKey)
	}
	if err := stub.PutPrivateData(string(args[0]), string(args[1]), value); err != nil {
		return errorf("putPrivate: %v", err)
	}
	return shim.Success(nil)
}

func getPrivate(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	v, err := stub.GetPrivateData(string(args[0]), string(args[1]))
	if err != nil {
		return errorf("getPrivate: %v", err)
	}
	return shim.Success(v)
}

func getPrivateHash(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	v, err := stub.GetPrivateDataHash(string(args[0]), string(args[1]))
	if err != nil {
		return errorf("getPrivateHash: %v", err)
	}
	return shim.Success(v)
}

func getPrivateMany(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	values, err := stub.GetMultiplePrivateData(string(args[0]), stringsOf(args[1:])...)
	if err != nil {
		return errorf("getPrivateMany: %v", err)
	}
	return jsonResponse(optionalStrings(values))
}

func privateRange(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	it, err := stub.GetPrivateDataByRange(string(args[0]), string(args[1]), string(args[2]))
	if err != nil {
		return errorf("privateRange: %v", err)
	}
	kvs, err := drain(it, identity)
	if err != nil {
		return errorf("privateRange: %v", err)
	}
	return jsonResponse(kvs)
}

func delPrivate(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	if err := stub.DelPrivateData(string(args[0]), string(args[1])); err != nil {
		return errorf("delPrivate: %v", err)
	}
	return shim.Success(nil)
}

func purgePrivate(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	if err := stub.PurgePrivateData(string(args[0]), string(args[1])); err != nil {
		return errorf("purgePrivate: %v", err)
	}
	return shim.Success(nil)
}

func setValidation(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	if err := stub.SetStateValidationParameter(string(args[0]), args[1]); err != nil {
		return errorf("setValidation: %v", err)
	}
	return shim.Success(nil)
}

func getValidation(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	ep, err := stub.GetStateValidationParameter(string(args[0]))
	if err != nil {
		return errorf("getValidation: %v", err)
	}
	return shim.Success(ep)
}

func setPrivateValidation(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	if err := stub.SetPrivateDataValidationParameter(string(args[0]), string(args[1]), args[2]); err != nil {
		return errorf("setPrivateValidation: %v", err)
	}
	return shim.Success(nil)
}

func getPrivateValidation(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	ep, err := stub.GetPrivateDataValidationParameter(string(args[0]), string(args[1]))
	if err != nil {
		return errorf("getPrivateValidation: %v", err)
	}
	return shim.Success(ep)
}

func event(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	if err := stub.SetEvent(string(args[0]), args[1]); err != nil {
		return errorf("event: %v", err)
	}
	return shim.Success(nil)
}

func fail(_ shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	return shim.Error(string(args[0]))
}

func rich(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	it, err := stub.GetQueryResult(string(args[0]))
	if err != nil {
		return errorf("rich: %v", err)
	}
	kvs, err := drain(it, identity)
	if err != nil {
		return errorf("rich: %v", err)
	}
	return jsonResponse(kvs)
}

func call(stub shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	return stub.InvokeChaincode(string(args[0]), args[1:], "")
}

func sleep(_ shim.ChaincodeStubInterface, args [][]byte) *peer.Response {
	ms, err := strconv.Atoi(string(args[0]))
	if err != nil || ms < 0 {
		return errorf("INVALID_ARGUMENT: sleep needs a non-negative number of milliseconds, got %q", args[0])
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
	return shim.Success(nil)
}

func txinfo(stub shim.ChaincodeStubInterface, _ [][]byte) *peer.Response {
	info := TxInfo{TxID: stub.GetTxID(), ChannelID: stub.GetChannelID()}
	if ts, err := stub.GetTxTimestamp(); err == nil && ts != nil {
		info.Timestamp = ts.AsTime().UTC().Format(time.RFC3339Nano)
	}
	creator, err := stub.GetCreator()
	if err != nil {
		return errorf("txinfo: creator: %v", err)
	}
	if len(creator) > 0 {
		id := &msp.SerializedIdentity{}
		if err := proto.Unmarshal(creator, id); err != nil {
			return errorf("txinfo: creator identity: %v", err)
		}
		info.Creator = id.GetMspid()
	}
	return jsonResponse(info)
}
