package testkit_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway/webhook"
	"github.com/xborder/xborder/internal/testkit"
)

func TestInOrder(t *testing.T) {
	want := []string{"1-0", "2-0", "2-1", "5-0"}
	for _, tc := range []struct {
		name string
		got  []string
		ok   bool
	}{
		{"exactly", []string{"1-0", "2-0", "2-1", "5-0"}, true},
		{"a suffix repeated after a restart", []string{"1-0", "2-0", "2-1", "2-0", "2-1", "5-0"}, true},
		{"a repeat at the end", []string{"1-0", "2-0", "2-1", "5-0", "5-0"}, true},
		{"skipped", []string{"1-0", "2-1", "5-0"}, false},
		{"reordered", []string{"1-0", "2-1", "2-0", "5-0"}, false},
		{"missing at the end", []string{"1-0", "2-0", "2-1"}, false},
		{"unexpected", []string{"1-0", "2-0", "2-1", "5-0", "6-0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.ok, testkit.InOrder(want, tc.got) == "", testkit.InOrder(want, tc.got))
		})
	}
}

func TestReceiver(t *testing.T) {
	secret := "whsec_receiver-test-0123456789abcdefghij"
	r := testkit.NewReceiver(secret)
	defer r.Close()
	body := []byte(`{"id":"3-0","subscriptionId":"sub_x","name":"OrderCreated","txId":"tx","blockNumber":3,"payload":{},"received":"2026-03-02T09:00:00Z"}`)
	post := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, r.URL("/h"), bytes.NewReader(body))
		req.Header.Set(webhook.SignatureHeader, sig)
		req.Header.Set(webhook.EventIDHeader, "3-0")
		req.Header.Set(webhook.AttemptHeader, "1")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, post(webhook.Sign([]byte("wrong"), time.Now(), body)))
	require.Equal(t, http.StatusUnauthorized, post(webhook.Sign([]byte(secret), time.Now().Add(-time.Hour), body)))
	require.Equal(t, 2, r.Refused())
	r.Respond(func(testkit.Hook) int { return http.StatusServiceUnavailable })
	require.Equal(t, http.StatusServiceUnavailable, post(webhook.Sign([]byte(secret), time.Now(), body)))
	r.Respond(nil)
	require.Equal(t, http.StatusNoContent, post(webhook.Sign([]byte(secret), time.Now(), body)))
	hooks := r.WaitForIDs(t, time.Second, []string{"3-0"})
	require.Equal(t, "OrderCreated", hooks[0].Event.Name)
	require.Len(t, r.Failed(), 1)
}
