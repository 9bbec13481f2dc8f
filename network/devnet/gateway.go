package devnet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	ab "github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/orderer"
	"github.com/xborder/xborder/network/devnet/txutil"
)

// gatewayServer is one peer's gateway.Gateway service. It behaves as Fabric v3's gateway
// embedded in a peer of org p.org: evaluations and first endorsements go to the local peer.
type gatewayServer struct {
	gateway.UnimplementedGatewayServer
	p *peerNode
}

func (g *gatewayServer) local() string { return g.p.org.MSPID }

// Evaluate simulates a proposal on one peer and returns the chaincode's response.
func (g *gatewayServer) Evaluate(ctx context.Context, req *gateway.EvaluateRequest) (*gateway.EvaluateResponse, error) {
	n := g.p.net
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "an evaluate request is required")
	}
	prop, err := txutil.UnpackProposal(req.GetProposedTransaction())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to unpack transaction proposal: %s", stripMalformed(err))
	}
	if prop.ChannelID() != n.cfg.Channel {
		return nil, status.Errorf(codes.Unavailable, "channel '%s' not found", prop.ChannelID())
	}
	targets := req.GetTargetOrganizations()
	transientProtected := false
	if len(prop.Transient()) > 0 && len(targets) == 0 {
		targets = []string{g.local()}
		transientProtected = true
	}
	ep, err := g.evaluator(prop.ChaincodeName(), targets)
	if err != nil {
		if transientProtected {
			return nil, status.Errorf(codes.FailedPrecondition, "no endorsers found in the gateway's organization; retry specifying target organization(s) to protect transient data: %s", err)
		}
		return nil, status.Errorf(codes.FailedPrecondition, "%s", err)
	}
	var resp *peer.Response
	var fail *peerFailure
	switch prop.ChaincodeName() {
	case qsccName:
		resp, fail = ep.evaluateQSCC(prop)
	case csccName:
		resp, fail = ep.evaluateCSCC(prop)
	default:
		var sim *simulation
		sim, fail = ep.processProposal(ctx, prop, n.chaincodes[prop.ChaincodeName()])
		if sim != nil {
			resp = sim.result.Response
		}
	}
	if fail != nil {
		d := n.detail(ep.mspID(), fail.message)
		if fail.code == codes.Aborted {
			return nil, rpcError(codes.Aborted, "failed to evaluate transaction, see attached details for more info", d)
		}
		return nil, rpcError(fail.code, "evaluate call to endorser returned error: "+fail.message, d)
	}
	return &gateway.EvaluateResponse{Result: resp}, nil
}

// evaluator picks the peer that evaluates, as Fabric's gateway does: its own organisation's
// unless targets exclude it, else the target organisation's peer with the highest ledger
// height (the first in configuration order among equals).
func (g *gatewayServer) evaluator(chaincode string, targets []string) (*peerNode, error) {
	n := g.p.net
	if chaincode != qsccName && chaincode != csccName {
		if _, ok := n.chaincodes[chaincode]; !ok {
			return nil, fmt.Errorf("no peers available to evaluate chaincode %s in channel %s", chaincode, n.cfg.Channel)
		}
	}
	if len(targets) == 0 || slices.Contains(targets, g.local()) {
		return g.p, nil
	}
	var best *peerNode
	var bestHeight uint64
	for _, q := range n.peers {
		if !slices.Contains(targets, q.mspID()) {
			continue
		}
		if h := q.ledger.Height(); best == nil || h > bestHeight {
			best, bestHeight = q, h
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no peers available to evaluate chaincode %s in channel %s with target organizations %v", chaincode, n.cfg.Channel, targets)
	}
	return best, nil
}

// Endorse collects the endorsements a proposal needs and returns the transaction envelope for
// the client to sign, as Fabric's gateway does: the proposal is processed first by the
// gateway's own peer (or the first organisation the client chose), the planner derives from
// that simulation which organisations must endorse, and their peers process the proposal on
// their own ledgers; every response payload must match the first one.
func (g *gatewayServer) Endorse(ctx context.Context, req *gateway.EndorseRequest) (*gateway.EndorseResponse, error) {
	n := g.p.net
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "an endorse request is required")
	}
	if len(req.GetProposedTransaction().GetProposalBytes()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "the proposed transaction must contain a signed proposal")
	}
	prop, err := txutil.UnpackProposal(req.GetProposedTransaction())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, stripMalformed(err))
	}
	if prop.ChannelID() != n.cfg.Channel {
		return nil, status.Errorf(codes.FailedPrecondition, "channel '%s' not found", prop.ChannelID())
	}
	cc, ok := n.chaincodes[prop.ChaincodeName()]
	if !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "no peers available to endorse chaincode %s in channel %s", prop.ChaincodeName(), n.cfg.Channel)
	}
	explicit := req.GetEndorsingOrganizations()
	first, err := g.firstEndorser(explicit)
	if err != nil {
		return nil, err
	}
	sim, fail := first.processProposal(ctx, prop, cc)
	if fail != nil {
		return nil, n.firstEndorserFailure(ctx, prop, cc, explicit, first, fail)
	}
	plan, err := n.planner.plan(&planRequest{
		chaincode:    cc.def.Name,
		simulator:    first.mspID(),
		local:        g.local(),
		transient:    len(prop.Transient()) > 0,
		rwset:        sim.result.RWSet,
		interest:     sim.result.Interest,
		privateReads: sim.result.PrivateReads,
		explicit:     explicit,
	})
	if err != nil {
		return nil, err
	}
	endorsements, err := n.collectEndorsements(ctx, sim, plan)
	if err != nil {
		return nil, err
	}
	env, err := txutil.AssembleTransaction(sim.prop, sim.prp, endorsements)
	if err != nil {
		return nil, status.Errorf(codes.Aborted, "failed to assemble transaction: %s", err)
	}
	n.distributePrivateData(sim)
	n.inflight.endorsedTx(prop.TxID())
	return &gateway.EndorseResponse{PreparedTransaction: env}, nil
}

// firstEndorser returns the peer that processes a proposal to endorse first: the gateway's
// own unless the client chose endorsing organisations without it, then the first of those.
// Every chosen organisation must have a peer.
func (g *gatewayServer) firstEndorser(explicit []string) (*peerNode, error) {
	n := g.p.net
	var unknown []string
	for _, o := range explicit {
		if !slices.Contains(n.peerOrgs, o) {
			unknown = append(unknown, o)
		}
	}
	if len(unknown) > 0 {
		return nil, status.Errorf(codes.Unavailable, "failed to find any endorsing peers for org(s): %v", unknown)
	}
	if len(explicit) > 0 && !slices.Contains(explicit, g.local()) {
		return n.peer(explicit[0])
	}
	return g.p, nil
}

// firstEndorserFailure is Endorse's answer when the first endorser's peer did not endorse:
// Aborted, with its message in the details. When the client chose the endorsing
// organisations, Fabric's gateway sends the proposal to all of them at once, so the other
// chosen organisations' peers process it too and their failures are reported as well.
func (n *Network) firstEndorserFailure(ctx context.Context, prop *txutil.Proposal, cc *chaincode, explicit []string, first *peerNode, fail *peerFailure) error {
	if len(explicit) == 0 {
		return rpcError(codes.Aborted, "failed to endorse transaction, see attached details for more info", n.detail(first.mspID(), fail.message))
	}
	details := []*gateway.ErrorDetail{n.detail(first.mspID(), fail.message)}
	var others []string
	for _, o := range dedup(slices.Clone(explicit)) {
		if o != first.mspID() {
			others = append(others, o)
		}
	}
	for _, r := range n.endorseOrgs(ctx, prop, cc, others, nil) {
		if r.fail != nil {
			details = append(details, n.detail(r.org, r.fail.message))
		}
	}
	return rpcError(codes.Aborted, "failed to collect enough transaction endorsements, see attached details for more info", details...)
}

// collectEndorsements gathers the endorsements of the first layout of plan whose peers all
// endorse with a payload matching the first endorser's, trying the layouts in order and
// skipping those with an organisation whose peer already failed, as Fabric's gateway does.
// The endorsements are in the layout's order.
func (n *Network) collectEndorsements(ctx context.Context, sim *simulation, plan *endorsementPlan) ([]*peer.Endorsement, error) {
	c := &collection{sim: sim, endorsed: map[string]*peer.Endorsement{}, failed: map[string]bool{}}
	for _, layout := range plan.layouts {
		if c.anyFailed(layout) {
			continue
		}
		if err := n.endorseLayout(ctx, c, layout); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, status.Error(codes.DeadlineExceeded, "endorsement timeout expired while collecting endorsements")
		}
		if !c.anyFailed(layout) {
			out := make([]*peer.Endorsement, len(layout))
			for i, o := range layout {
				out[i] = c.endorsed[o]
			}
			return out, nil
		}
	}
	return nil, rpcError(codes.Aborted, "failed to collect enough transaction endorsements, see attached details for more info", c.details...)
}

// collection is the state of collectEndorsements: the endorsements received, the
// organisations whose peer failed, and why.
type collection struct {
	sim      *simulation
	endorsed map[string]*peer.Endorsement
	failed   map[string]bool
	details  []*gateway.ErrorDetail
}

func (c *collection) anyFailed(layout []string) bool {
	return slices.ContainsFunc(layout, func(o string) bool { return c.failed[o] })
}

// endorseLayout asks the peers of layout's organisations that have not endorsed yet: the
// first endorser only signs its simulation, the others process the proposal in parallel.
func (n *Network) endorseLayout(ctx context.Context, c *collection, layout []string) error {
	var need []string
	for _, o := range layout {
		switch {
		case c.endorsed[o] != nil:
		case o != c.sim.peer.mspID():
			need = append(need, o)
		default:
			e, err := c.sim.sign()
			if err != nil {
				return status.Errorf(codes.Aborted, "failed to assemble transaction: %s", err)
			}
			c.endorsed[o] = e
		}
	}
	for _, r := range n.endorseOrgs(ctx, c.sim.prop, c.sim.cc, need, c.sim.prp) {
		if r.fail != nil {
			c.failed[r.org] = true
			c.details = append(c.details, n.detail(r.org, r.fail.message))
			continue
		}
		c.endorsed[r.org] = r.e
	}
	return nil
}

// orgEndorsement is the outcome of one organisation's peer processing a proposal.
type orgEndorsement struct {
	org  string
	e    *peer.Endorsement
	fail *peerFailure
}

// endorseOrgs has the peers of orgs process the proposal in parallel, each on its own ledger,
// and sign their responses; with ref set, a response whose payload differs from ref fails.
func (n *Network) endorseOrgs(ctx context.Context, prop *txutil.Proposal, cc *chaincode, orgs []string, ref []byte) []orgEndorsement {
	out := make([]orgEndorsement, len(orgs))
	var wg sync.WaitGroup
	for i, o := range orgs {
		out[i].org = o
		q, err := n.peer(o)
		if err != nil {
			out[i].fail = &peerFailure{codes.Unavailable, err.Error()}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].e, out[i].fail = q.endorseOn(ctx, prop, cc, ref)
		}()
	}
	wg.Wait()
	return out
}

// Submit checks a signed transaction envelope and hands it to the ordering service.
func (g *gatewayServer) Submit(ctx context.Context, req *gateway.SubmitRequest) (*gateway.SubmitResponse, error) {
	n := g.p.net
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "a submit request is required")
	}
	env := req.GetPreparedTransaction()
	if env == nil {
		return nil, status.Error(codes.InvalidArgument, "a prepared transaction is required")
	}
	if len(env.GetSignature()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "prepared transaction must be signed")
	}
	if req.GetChannelId() != n.cfg.Channel {
		return nil, status.Errorf(codes.FailedPrecondition, "channel '%s' not found", req.GetChannelId())
	}
	tx, info, code := n.checkEnvelope(env)
	if code != common.Status_SUCCESS {
		return nil, rpcError(codes.Aborted, fmt.Sprintf("received unsuccessful response from orderer: status=%s, info=%s", code, info))
	}
	if req.GetTransactionId() != "" && tx.TxID() != req.GetTransactionId() {
		return nil, status.Errorf(codes.InvalidArgument, "transaction ID %s does not match the prepared transaction's ID %s", req.GetTransactionId(), tx.TxID())
	}
	raw, err := proto.Marshal(env)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to marshal the prepared transaction: %v", err)
	}
	n.inflight.submitted(tx.TxID())
	if err := n.orderer.order(ctx, raw); err != nil {
		switch {
		case errors.Is(err, orderer.ErrTooLarge):
			return nil, rpcError(codes.Aborted, fmt.Sprintf("received unsuccessful response from orderer: status=%s, info=%s", common.Status_BAD_REQUEST, err))
		case ctx.Err() != nil:
			return nil, status.Error(codes.DeadlineExceeded, "submit timeout expired while broadcasting to ordering service")
		}
		return nil, rpcError(codes.Unavailable, "no orderers could successfully process transaction", n.ordererDetail(err.Error()))
	}
	return &gateway.SubmitResponse{}, nil
}

// checkEnvelope applies the ordering service's broadcast checks: a well-formed endorser
// transaction for this channel, signed by a member of an application organisation.
func (n *Network) checkEnvelope(env *common.Envelope) (*txutil.Transaction, string, common.Status) {
	tx, err := txutil.UnpackEnvelope(env)
	if err != nil {
		return nil, stripMalformed(err), common.Status_BAD_REQUEST
	}
	if tx.HeaderType() != common.HeaderType_ENDORSER_TRANSACTION {
		return nil, fmt.Sprintf("message of type %s is not allowed on this channel", tx.HeaderType()), common.Status_BAD_REQUEST
	}
	if tx.ChannelHeader.GetChannelId() != n.cfg.Channel {
		return nil, fmt.Sprintf("channel %s does not match the channel of the request (%s)", tx.ChannelHeader.GetChannelId(), n.cfg.Channel), common.Status_BAD_REQUEST
	}
	creator, err := n.mgr.Deserialize(tx.SignatureHeader.GetCreator())
	if err == nil {
		err = creator.Verify(env.GetPayload(), env.GetSignature())
	}
	if err != nil || !n.isWriter(creator) {
		return nil, "implicit policy evaluation failed - 0 sub-policies were satisfied, but this policy requires 1 of the 'Writers' sub-policies to be satisfied", common.Status_FORBIDDEN
	}
	return tx, "", common.Status_SUCCESS
}

// CommitStatus waits for a transaction to be committed and returns its validation code.
func (g *gatewayServer) CommitStatus(ctx context.Context, signed *gateway.SignedCommitStatusRequest) (*gateway.CommitStatusResponse, error) {
	n := g.p.net
	if len(signed.GetRequest()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "a commit status request is required")
	}
	req := &gateway.CommitStatusRequest{}
	if err := proto.Unmarshal(signed.GetRequest(), req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid status request: %v", err)
	}
	switch {
	case req.GetIdentity() == nil:
		return nil, status.Error(codes.InvalidArgument, "no identity provided")
	case req.GetChannelId() == "":
		return nil, status.Error(codes.InvalidArgument, "no channel ID provided")
	case req.GetTransactionId() == "":
		return nil, status.Error(codes.InvalidArgument, "transaction ID should not be empty")
	}
	if err := n.checkReader(req.GetChannelId(), req.GetIdentity(), signed.GetRequest(), signed.GetSignature()); err != nil {
		return nil, err
	}
	wctx, cancel := n.withShutdown(ctx)
	defer cancel()
	rec, err := g.p.ledger.WaitForTxStatus(wctx, req.GetTransactionId())
	if err != nil {
		return nil, n.ledgerRPCError(ctx, err)
	}
	return &gateway.CommitStatusResponse{Result: rec.Code, BlockNumber: rec.BlockNum}, nil
}

// ChaincodeEvents streams the events of one chaincode's valid transactions, block by block,
// from the requested position and then as blocks are committed.
func (g *gatewayServer) ChaincodeEvents(signed *gateway.SignedChaincodeEventsRequest, stream gateway.Gateway_ChaincodeEventsServer) error {
	n := g.p.net
	ctx, cancel := n.withShutdown(stream.Context())
	defer cancel()
	if len(signed.GetRequest()) == 0 {
		return status.Error(codes.InvalidArgument, "a chaincode events request is required")
	}
	req := &gateway.ChaincodeEventsRequest{}
	if err := proto.Unmarshal(signed.GetRequest(), req); err != nil {
		return status.Errorf(codes.InvalidArgument, "invalid chaincode events request: %v", err)
	}
	if err := n.checkReader(req.GetChannelId(), req.GetIdentity(), signed.GetRequest(), signed.GetSignature()); err != nil {
		return err
	}
	p := g.p
	start, skipThrough, err := p.eventsStart(req)
	if err != nil {
		return err
	}
	for num := start; ; num++ {
		if err := p.ledger.WaitForHeight(ctx, num+1); err != nil {
			return n.ledgerRPCError(stream.Context(), err)
		}
		skip := int64(-1)
		if num == start {
			skip = skipThrough
		}
		resp, err := p.blockEvents(num, req.GetChaincodeId(), skip)
		if err != nil {
			return status.Error(codes.Aborted, err.Error())
		}
		if len(resp.Events) == 0 {
			continue
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// eventsStart returns the block a chaincode events request starts from and, when it resumes
// after a transaction, that transaction's number in the block (else -1): the events of
// transactions up to it are skipped.
func (p *peerNode) eventsStart(req *gateway.ChaincodeEventsRequest) (uint64, int64, error) {
	if after := req.GetAfterTransactionId(); after != "" {
		if rec, err := p.ledger.TxStatus(after); err == nil {
			return rec.BlockNum, int64(rec.TxNum), nil
		}
	}
	switch pos := req.GetStartPosition().GetType().(type) {
	case nil, *ab.SeekPosition_NextCommit:
		return p.ledger.Height(), -1, nil
	case *ab.SeekPosition_Specified:
		return pos.Specified.GetNumber(), -1, nil
	default:
		return 0, 0, status.Errorf(codes.InvalidArgument, "invalid start position type: %T", pos)
	}
}

// blockEvents returns the chaincode's events in block num, leaving out those of the
// transactions numbered up to skipThrough (-1: none).
func (p *peerNode) blockEvents(num uint64, chaincode string, skipThrough int64) (*gateway.ChaincodeEventsResponse, error) {
	block, err := p.ledger.Block(num)
	if err != nil {
		return nil, err
	}
	events, err := txutil.ChaincodeEvents(block, chaincode)
	if err != nil {
		return nil, err
	}
	resp := &gateway.ChaincodeEventsResponse{BlockNumber: num}
	for _, e := range events {
		if int64(e.TxNum) > skipThrough {
			resp.Events = append(resp.Events, e.Event)
		}
	}
	return resp, nil
}
