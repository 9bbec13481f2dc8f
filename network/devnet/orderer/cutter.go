// Package orderer implements the devnet's block cutter: it queues ordered envelopes and cuts
// them into batches by message count, preferred batch size and batch timeout, like Fabric's
// orderer block cutter, handing each batch to a callback in submission order.
package orderer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Config configures a Cutter. Zero fields take the defaults.
type Config struct {
	// BatchTimeout is how long the first message of a batch waits for more (default 2ms).
	BatchTimeout time.Duration
	// MaxMessageCount is the maximum number of messages in a batch (default 500).
	MaxMessageCount int
	// PreferredMaxBytes is the preferred maximum size of a batch: a batch is cut before a
	// message that would make it larger, and a message larger than this is a batch on its own
	// (default 512 KiB).
	PreferredMaxBytes int
	// AbsoluteMaxBytes is the largest message accepted (default 99 MiB).
	AbsoluteMaxBytes int
	// QueueSize bounds the number of messages waiting to be cut; Order blocks when the queue is
	// full (default 4 * MaxMessageCount).
	QueueSize int
	// CutWhenIdle cuts a batch of a single message as soon as no other message is waiting,
	// instead of holding it for BatchTimeout: a message that finds the orderer idle and alone
	// is delivered at once. Once messages queue up behind each other (concurrent load), the
	// batch is filled for up to BatchTimeout as usual, so that the cost of a batch is shared.
	// Because batches are delivered by one goroutine, the messages that arrive while a batch is
	// being delivered form the next one.
	CutWhenIdle bool
	// Expecting, when set, refines CutWhenIdle: it reports whether more messages are on their
	// way or worth waiting for (for the devnet: endorsed transactions not yet submitted, or a
	// block no peer has committed yet). A batch of any size is then cut as soon as no message
	// is queued and none is expected, and held (for up to BatchTimeout) while Expecting
	// reports true; Nudge asks the cutter to ask again. It is called from the cutter's
	// goroutine.
	Expecting func() bool
}

// Default values of Config fields.
const (
	DefaultBatchTimeout      = 2 * time.Millisecond
	DefaultMaxMessageCount   = 500
	DefaultPreferredMaxBytes = 512 * 1024
	DefaultAbsoluteMaxBytes  = 99 * 1024 * 1024
)

func (c Config) withDefaults() Config {
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.MaxMessageCount <= 0 {
		c.MaxMessageCount = DefaultMaxMessageCount
	}
	if c.PreferredMaxBytes <= 0 {
		c.PreferredMaxBytes = DefaultPreferredMaxBytes
	}
	if c.AbsoluteMaxBytes <= 0 {
		c.AbsoluteMaxBytes = DefaultAbsoluteMaxBytes
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4 * c.MaxMessageCount
	}
	return c
}

// ErrClosed is returned by Order after Close.
var ErrClosed = errors.New("orderer: cutter is closed")

// ErrTooLarge is returned by Order for a message larger than AbsoluteMaxBytes.
var ErrTooLarge = errors.New("orderer: message exceeds the maximum allowed size")

// Cutter batches ordered messages. Batches are delivered by one goroutine, in submission
// order; a slow deliver function applies backpressure to Order through the bounded queue.
type Cutter struct {
	cfg     Config
	deliver func(batch [][]byte)

	mu     sync.RWMutex
	closed bool
	queue  chan []byte
	nudge  chan struct{} // Nudge: what Expecting reports may have changed
	done   chan struct{}
}

// New starts a cutter that calls deliver with every batch.
func New(cfg Config, deliver func(batch [][]byte)) *Cutter {
	cfg = cfg.withDefaults()
	c := &Cutter{
		cfg:     cfg,
		deliver: deliver,
		queue:   make(chan []byte, cfg.QueueSize),
		nudge:   make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	go c.run()
	return c
}

// Config returns the effective configuration (defaults applied).
func (c *Cutter) Config() Config {
	return c.cfg
}

// Order enqueues one message. It blocks while the queue is full, until ctx is done.
func (c *Cutter) Order(ctx context.Context, env []byte) error {
	if len(env) > c.cfg.AbsoluteMaxBytes {
		return fmt.Errorf("%w: %d bytes, maximum %d", ErrTooLarge, len(env), c.cfg.AbsoluteMaxBytes)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	select {
	case c.queue <- env:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("orderer: order: %w", ctx.Err())
	}
}

// Nudge tells the cutter that what Expecting reports may have changed without a message
// arriving (a commit finished, for the devnet): a held batch is cut if nothing is expected any
// more. It never blocks.
func (c *Cutter) Nudge() {
	select {
	case c.nudge <- struct{}{}:
	default:
	}
}

// Close stops accepting messages, delivers every message already accepted and waits for the
// last delivery to return. It is safe to call more than once.
func (c *Cutter) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.mu.Unlock()
	<-c.done
}

func (c *Cutter) run() {
	defer close(c.done)
	b := &batcher{c: c}
	for {
		select {
		case msg, ok := <-c.queue:
			if !ok {
				b.cut()
				return
			}
			b.add(msg)
			if c.idle(len(b.pending)) {
				b.cut()
			}
		case <-c.nudge:
			if c.idle(len(b.pending)) {
				b.cut()
			}
		case <-b.timeout:
			b.timer, b.timeout = nil, nil
			b.cut()
		}
	}
}

// idle reports whether CutWhenIdle cuts the pending batch of n messages now: nothing is
// queued behind it and either it is a lone message (no Expecting) or no message is expected.
func (c *Cutter) idle(n int) bool {
	if !c.cfg.CutWhenIdle || n == 0 || len(c.queue) > 0 {
		return false
	}
	if c.cfg.Expecting == nil {
		return n == 1
	}
	// A message queued while Expecting ran joins this batch.
	return !c.cfg.Expecting() && len(c.queue) == 0
}

// batcher is the run loop's pending batch and its batch timer.
type batcher struct {
	c            *Cutter
	pending      [][]byte
	pendingBytes int
	timer        *time.Timer
	timeout      <-chan time.Time // fires when the pending batch has waited BatchTimeout
}

func (b *batcher) stopTimer() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer, b.timeout = nil, nil
	}
}

// cut delivers the pending batch, if any.
func (b *batcher) cut() {
	b.stopTimer()
	if len(b.pending) == 0 {
		return
	}
	batch := b.pending
	b.pending, b.pendingBytes = nil, 0
	b.c.deliver(batch)
}

// add adds a message to the pending batch, cutting before it when it would make the batch
// exceed PreferredMaxBytes and after it when the batch reaches MaxMessageCount. An oversized
// message is cut alone, after the pending batch.
func (b *batcher) add(msg []byte) {
	cfg := &b.c.cfg
	size := len(msg)
	if size > cfg.PreferredMaxBytes {
		b.cut()
		b.pending, b.pendingBytes = [][]byte{msg}, size
		b.cut()
		return
	}
	if b.pendingBytes+size > cfg.PreferredMaxBytes {
		b.cut()
	}
	b.pending = append(b.pending, msg)
	b.pendingBytes += size
	if len(b.pending) >= cfg.MaxMessageCount {
		b.cut()
		return
	}
	if b.timer == nil {
		b.timer = time.NewTimer(cfg.BatchTimeout)
		b.timeout = b.timer.C
	}
}
