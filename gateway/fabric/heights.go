package fabric

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"
)

// peerHeights is what the client knows of the block height (the number of committed blocks) of
// each organisation's peer it is connected to. FollowPeers feeds it from one filtered-block
// event stream per peer. A peer's Deliver service hands out a block only once the block and its
// state updates are committed (the ledger holds block readers back while it commits), so a
// height observed here is a lower bound of what the next proposal endorsed or evaluated on that
// peer sees. A peer whose stream is down is not observed: nothing waits for it.
type peerHeights struct {
	mu      sync.Mutex
	heights map[string]uint64 // by MSP ID; absent: not observed
	changed chan struct{}     // closed and replaced at every change
}

func newPeerHeights() *peerHeights {
	return &peerHeights{heights: map[string]uint64{}, changed: make(chan struct{})}
}

// set records that mspID's peer has committed height blocks; a height is never lowered while
// the peer stays observed.
func (p *peerHeights) set(mspID string, height uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h, ok := p.heights[mspID]; ok && h >= height {
		return
	}
	p.heights[mspID] = height
	close(p.changed)
	p.changed = make(chan struct{})
}

// forget stops observing mspID's peer (its stream broke).
func (p *peerHeights) forget(mspID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.heights[mspID]; !ok {
		return
	}
	delete(p.heights, mspID)
	close(p.changed)
	p.changed = make(chan struct{})
}

// snapshot returns the observed heights by MSP ID.
func (p *peerHeights) snapshot() map[string]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]uint64, len(p.heights))
	for k, v := range p.heights {
		out[k] = v
	}
	return out
}

// highest returns the largest height in heights (0 for none).
func highest(heights map[string]uint64) uint64 {
	var top uint64
	for _, h := range heights {
		top = max(top, h)
	}
	return top
}

// behind returns, sorted, the observed peers of orgs (every observed peer when orgs is nil)
// with fewer than height blocks, and the channel closed at the next change.
func (p *peerHeights) behind(height uint64, orgs []string) ([]string, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for msp, h := range p.heights {
		if h < height && (orgs == nil || slices.Contains(orgs, msp)) {
			out = append(out, msp)
		}
	}
	slices.Sort(out)
	return out, p.changed
}

// wait blocks until every observed peer of orgs (every observed peer when orgs is nil) has
// committed height blocks, or ctx ends. It returns the peers still behind (nil when none).
func (p *peerHeights) wait(ctx context.Context, height uint64, orgs []string) []string {
	for {
		lagging, changed := p.behind(height, orgs)
		if len(lagging) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return lagging
		case <-changed:
		}
	}
}

// FollowPeers observes the block height of every organisation's peer the client is connected
// to, until ctx ends: for each peer it reads the height once with qscc GetChainInfo, then
// follows the peer's filtered-block event stream from there, reconnecting with backoff when the
// stream breaks. Read-your-writes waits on these heights (see Consistency). The stream of
// filtered blocks (transaction IDs and validation codes only) costs the peer one Deliver stream
// and the client nothing while idle, unlike polling GetChainInfo, and reports each commit the
// moment it happens.
func (c *Client) FollowPeers(ctx context.Context) {
	var wg sync.WaitGroup
	for _, org := range c.orgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.followPeer(ctx, org)
		}()
	}
	wg.Wait()
}

// followPeer follows one peer's height until ctx ends.
func (c *Client) followPeer(ctx context.Context, mspID string) {
	backoff := 100 * time.Millisecond
	for {
		connected, err := c.followOnce(ctx, mspID)
		c.heights.forget(mspID)
		c.opts.Metrics.peerHeight(mspID, 0)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = 100 * time.Millisecond
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "peer height stream interrupted; retrying", slog.String("org", mspID),
			slog.Duration("backoff", backoff), slog.String("error", errText(err)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// followOnce reads mspID's peer height and follows its filtered blocks until the stream ends;
// connected reports whether the stream delivered anything.
func (c *Client) followOnce(ctx context.Context, mspID string) (connected bool, err error) {
	height, err := c.chainHeight(ctx, mspID)
	if err != nil {
		return false, err
	}
	c.heights.set(mspID, height)
	c.opts.Metrics.peerHeight(mspID, height)
	network, err := c.network(mspID)
	if err != nil {
		return false, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	blocks, err := network.FilteredBlockEvents(sctx, client.WithStartBlock(height))
	if err != nil {
		return false, fmt.Errorf("filtered block events of %s: %w", mspID, err)
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "following peer height", slog.String("org", mspID), slog.Uint64("height", height))
	for b := range blocks {
		connected = true
		c.heights.set(mspID, b.GetNumber()+1)
		c.opts.Metrics.peerHeight(mspID, b.GetNumber()+1)
	}
	return connected, fmt.Errorf("filtered block stream of %s closed", mspID)
}

// chainHeight asks mspID's peer for its height (qscc GetChainInfo).
func (c *Client) chainHeight(ctx context.Context, mspID string) (uint64, error) {
	out, err := c.qscc(ctx, mspID, "GetChainInfo", c.opts.Channel)
	if err != nil {
		return 0, fmt.Errorf("chain info of %s: %w", mspID, err)
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(out, &info); err != nil {
		return 0, fmt.Errorf("chain info of %s: %w", mspID, err)
	}
	return info.GetHeight(), nil
}
