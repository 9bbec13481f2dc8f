package gateway

import (
	"fmt"
	"strconv"
	"strings"
)

// EventID orders chaincode events: by block, then by position among the block's events. The
// zero value is before every event.
type EventID struct {
	Block uint64
	Index uint32
}

// String renders "<block>-<index>".
func (id EventID) String() string {
	return strconv.FormatUint(id.Block, 10) + "-" + strconv.FormatUint(uint64(id.Index), 10)
}

// IsZero reports whether id is the zero EventID.
func (id EventID) IsZero() bool { return id == EventID{} }

// Less reports whether id orders before other.
func (id EventID) Less(other EventID) bool {
	if id.Block != other.Block {
		return id.Block < other.Block
	}
	return id.Index < other.Index
}

// ParseEventID parses "<block>-<index>" (decimal, no signs or spaces).
func ParseEventID(s string) (EventID, error) {
	b, i, ok := strings.Cut(s, "-")
	if !ok || b == "" || i == "" || strings.ContainsAny(s, "+ ") {
		return EventID{}, fmt.Errorf("event id %q: want <block>-<index>", s)
	}
	block, err := strconv.ParseUint(b, 10, 64)
	if err != nil {
		return EventID{}, fmt.Errorf("event id %q: block: %w", s, err)
	}
	index, err := strconv.ParseUint(i, 10, 32)
	if err != nil {
		return EventID{}, fmt.Errorf("event id %q: index: %w", s, err)
	}
	return EventID{Block: block, Index: uint32(index)}, nil
}

// MarshalText renders the ID as "<block>-<index>", so that it is a string in JSON.
func (id EventID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses "<block>-<index>".
func (id *EventID) UnmarshalText(b []byte) error {
	v, err := ParseEventID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
