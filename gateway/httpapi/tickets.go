package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// Stream tickets let a browser open GET /api/v1/events with EventSource, which cannot send an
// Authorization header: the page asks POST /api/v1/events/tickets with its API key and opens
// the stream with ?ticket=. A ticket is short-lived, single-use and good for the event stream
// only; the gateway keeps only its SHA-256, never logs it, and forgets it when redeemed or
// expired. Tickets live in the gateway's memory: a client redeems a ticket at the gateway
// that issued it.
const (
	// TicketTTL is how long a stream ticket may wait to be redeemed.
	TicketTTL = 30 * time.Second
	// ticketPrefix marks tickets, so that a ticket sent as an API key (or the reverse) is told
	// apart in error messages.
	ticketPrefix = "xbt_"
	// maxTicketsPerKey bounds the tickets an API key may hold unredeemed.
	maxTicketsPerKey = 32
	// ticketScheme is the OpenAPI security scheme that marks the operations accepting tickets.
	ticketScheme = "eventTicket"
)

type ticket struct {
	caller  gateway.Caller
	expires time.Time
}

// TicketStore issues and redeems stream tickets.
type TicketStore struct {
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	byHash map[[sha256.Size]byte]ticket
}

// NewTicketStore returns a store whose tickets live ttl; now is the clock.
func NewTicketStore(ttl time.Duration, now func() time.Time) *TicketStore {
	return &TicketStore{ttl: ttl, now: now, byHash: map[[sha256.Size]byte]ticket{}}
}

// Issue returns a new ticket for caller and when it expires. A key holding maxTicketsPerKey
// unredeemed tickets gets RATE_LIMITED.
func (t *TicketStore) Issue(caller gateway.Caller) (string, time.Time, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", time.Time{}, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot create a ticket", Err: err}
	}
	tok := ticketPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	now := t.now()
	expires := now.Add(t.ttl)
	t.mu.Lock()
	defer t.mu.Unlock()
	held := 0
	for h, tk := range t.byHash {
		switch {
		case !now.Before(tk.expires):
			delete(t.byHash, h)
		case tk.caller.KeyID == caller.KeyID:
			held++
		}
	}
	if held >= maxTicketsPerKey {
		return "", time.Time{}, gateway.Errorf(gateway.CodeRateLimited,
			"this API key holds %d unused stream tickets; use them or wait %s for them to expire", held, t.ttl)
	}
	t.byHash[sha256.Sum256([]byte(tok))] = ticket{caller: caller, expires: expires}
	return tok, expires, nil
}

// Redeem returns the caller a ticket was issued to and forgets the ticket.
func (t *TicketStore) Redeem(tok string) (gateway.Caller, error) {
	h := sha256.Sum256([]byte(tok))
	t.mu.Lock()
	tk, ok := t.byHash[h]
	delete(t.byHash, h)
	t.mu.Unlock()
	if !ok || !t.now().Before(tk.expires) {
		return gateway.Caller{}, gateway.Errorf(gateway.CodeUnauthenticated,
			"unknown, used or expired stream ticket: tickets are single-use and live %s; get a new one with POST /api/v1/events/tickets", t.ttl)
	}
	return tk.caller, nil
}

// acceptsTicket reports whether op lists the stream-ticket security scheme.
func acceptsTicket(op *Operation) bool {
	if op == nil || op.Op.Security == nil {
		return false
	}
	return slices.ContainsFunc(*op.Op.Security, func(r openapi3.SecurityRequirement) bool {
		_, ok := r[ticketScheme]
		return ok
	})
}

// authenticate resolves the request's caller: the Authorization header, or, on operations that
// accept them and only without that header, a stream ticket in ?ticket=.
func (s *Server) authenticate(c *gin.Context) (gateway.Caller, error) {
	header := c.GetHeader("Authorization")
	if tok := c.Query("ticket"); header == "" && tok != "" && acceptsTicket(opOf(c)) {
		caller, err := s.tickets.Redeem(tok)
		if err == nil {
			err = s.checkKey(c, caller)
		}
		return caller, err
	}
	caller, err := s.auth.Authenticate(c.Request.Context(), header)
	if err != nil && header == "" && c.Query("ticket") != "" {
		return caller, gateway.Errorf(gateway.CodeUnauthenticated, "stream tickets are accepted by GET /api/v1/events only")
	}
	return caller, err
}

// ticketAnswer is the answer of POST /api/v1/events/tickets.
type ticketAnswer struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expiresAt"`
	StreamURL string    `json:"streamUrl"`
}

// createEventTicket serves POST /api/v1/events/tickets.
func (s *Server) createEventTicket(c *gin.Context) {
	tok, expires, err := s.tickets.Issue(callerOf(c))
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, ticketAnswer{Ticket: tok, ExpiresAt: expires.UTC(), StreamURL: "/api/v1/events?ticket=" + tok})
}

// checkKey refuses a caller whose managed key was revoked since it authenticated (a stream
// ticket's, an open stream's).
func (s *Server) checkKey(c *gin.Context, caller gateway.Caller) error {
	if s.opts.KeyService == nil {
		return nil
	}
	return s.opts.KeyService.CheckKey(c.Request.Context(), caller.KeyID)
}
