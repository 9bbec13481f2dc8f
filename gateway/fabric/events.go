package fabric

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/xborder/xborder/gateway"
)

// EventSink stores chaincode events with their checkpoint; *store.Store implements it.
type EventSink interface {
	// EventCheckpoint returns the block to resume at and the last transaction of that block
	// already stored ("" if none).
	EventCheckpoint() (uint64, string, error)
	// AppendEvents stores events in order and moves the checkpoint past the last, atomically;
	// it returns them with their IDs and, for each, whether it was stored (not a replay).
	AppendEvents(evs []gateway.Event) ([]gateway.Event, []bool, error)
}

// checkpoint adapts a stored position to the SDK's client.Checkpoint.
type checkpoint struct {
	block uint64
	txID  string
}

func (c checkpoint) BlockNumber() uint64   { return c.block }
func (c checkpoint) TransactionID() string { return c.txID }

// FeedEvents copies the channel's chaincode events into sink, as mspID, until ctx ends. It
// resumes from the sink's checkpoint (from block 0 on first start), so that no event is lost or
// stored twice across restarts, and reconnects with backoff when the stream breaks. Each event
// also tells read-your-writes (Consistency) the block of its order's write.
func (c *Client) FeedEvents(ctx context.Context, mspID string, sink EventSink) error {
	network, err := c.network(mspID)
	if err != nil {
		return err
	}
	backoff := 100 * time.Millisecond
	for {
		block, txID, err := sink.EventCheckpoint()
		if err != nil {
			return fmt.Errorf("event feed: %w", err)
		}
		opt := client.WithCheckpoint(checkpoint{block: block, txID: txID})
		if block == 0 && txID == "" {
			opt = client.WithStartBlock(0)
		}
		sctx, cancel := context.WithCancel(ctx)
		events, err := network.ChaincodeEvents(sctx, c.opts.Chaincode, opt)
		if err == nil {
			c.log.LogAttrs(ctx, slog.LevelInfo, "chaincode event stream connected", slog.Uint64("fromBlock", block))
			backoff = 100 * time.Millisecond
			err = c.drain(ctx, events, sink)
		}
		cancel()
		if ctx.Err() != nil {
			return nil //nolint:nilerr // shutting down is not a failure of the feed
		}
		if err != nil {
			c.log.LogAttrs(ctx, slog.LevelWarn, "chaincode event stream interrupted", slog.String("error", errText(err)))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// maxEventBatch bounds how many events the feed stores in one commit.
const maxEventBatch = 256

// drain stores the stream's events until it ends: each time, the events already received (up
// to maxEventBatch) in one commit, so that a block's events cost one sync, not one each.
func (c *Client) drain(ctx context.Context, events <-chan *client.ChaincodeEvent, sink EventSink) error {
	for ev := range events {
		batch := []gateway.Event{c.received(ev)}
	more:
		for len(batch) < maxEventBatch {
			select {
			case ev, ok := <-events:
				if !ok {
					break more
				}
				batch = append(batch, c.received(ev))
			default:
				break more
			}
		}
		stored, fresh, err := sink.AppendEvents(batch)
		if err != nil {
			return fmt.Errorf("store chaincode events: %w", err)
		}
		for i, ev := range stored {
			if !fresh[i] {
				continue
			}
			c.opts.Metrics.event()
			c.log.LogAttrs(ctx, slog.LevelDebug, "chaincode event stored", slog.String("event", ev.Name),
				slog.String("txId", ev.TxID), slog.String("id", ev.ID.String()))
		}
	}
	return fmt.Errorf("event stream closed")
}

// received is a chaincode event as the log keeps it. Every write of an order emits one event:
// it also tells read-your-writes about the writes other gateways made.
func (c *Client) received(ev *client.ChaincodeEvent) gateway.Event {
	orderID := payloadOrderID(ev.Payload)
	c.writes.note(orderID, ev.BlockNumber)
	return gateway.Event{
		Name:        ev.EventName,
		TxID:        ev.TransactionID,
		BlockNumber: ev.BlockNumber,
		OrderID:     orderID,
		Payload:     jsonPayload(ev.Payload),
		Received:    time.Now().UTC(),
	}
}

// payloadOrderID returns the payload's top-level "orderId", if any.
func payloadOrderID(payload []byte) string {
	var p struct {
		OrderID string `json:"orderId"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return ""
	}
	return p.OrderID
}

// jsonPayload returns payload if it is JSON, else the payload as a JSON string.
func jsonPayload(payload []byte) json.RawMessage {
	if len(payload) == 0 {
		return json.RawMessage("null")
	}
	if json.Valid(payload) {
		return json.RawMessage(payload)
	}
	b, _ := json.Marshal(string(payload))
	return b
}
