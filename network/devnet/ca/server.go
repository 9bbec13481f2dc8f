package ca

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Handler serves the CA's Fabric CA REST subset: POST /api/v1/enroll, /api/v1/register and
// /api/v1/revoke, answering {"success","result","errors","messages"} as fabric-ca-server does.
func (c *CA) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/enroll", c.serveEnroll)
	mux.HandleFunc("POST /api/v1/register", c.serveRegister)
	mux.HandleFunc("POST /api/v1/revoke", c.serveRevoke)
	return mux
}

func (c *CA) serveEnroll(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	body, err := readBody(r)
	if err != nil || !ok {
		answer(w, nil, refuse(401, "enroll needs HTTP basic authentication and a body"))
		return
	}
	var req struct {
		CSR string `json:"certificate_request"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		answer(w, nil, refuse(400, "unreadable request: %v", err))
		return
	}
	certPEM, err := c.Enroll(id, secret, []byte(req.CSR))
	if err != nil {
		answer(w, nil, err)
		return
	}
	answer(w, map[string]any{"Cert": base64.StdEncoding.EncodeToString(certPEM),
		"ServerInfo": map[string]any{"CAName": "", "CAChain": base64.StdEncoding.EncodeToString(c.certPEM())}}, nil)
}

func (c *CA) serveRegister(w http.ResponseWriter, r *http.Request) {
	registrar, body, err := c.authenticate(r)
	if err != nil {
		answer(w, nil, err)
		return
	}
	var req Registration
	if err := json.Unmarshal(body, &req); err != nil {
		answer(w, nil, refuse(400, "unreadable request: %v", err))
		return
	}
	secret, err := c.Register(registrar, req)
	if err != nil {
		answer(w, nil, err)
		return
	}
	answer(w, map[string]any{"secret": secret}, nil)
}

func (c *CA) serveRevoke(w http.ResponseWriter, r *http.Request) {
	registrar, body, err := c.authenticate(r)
	if err != nil {
		answer(w, nil, err)
		return
	}
	var req struct {
		ID     string `json:"id"`
		Serial string `json:"serial"`
	}
	if err := json.Unmarshal(body, &req); err != nil || (req.ID == "") == (req.Serial == "") {
		answer(w, nil, refuse(400, "revoke needs the id of an identity or the serial of a certificate"))
		return
	}
	revoke := func() error { return c.Revoke(registrar, req.ID) }
	if req.Serial != "" {
		revoke = func() error { return c.RevokeSerial(registrar, req.Serial) }
	}
	if err := revoke(); err != nil {
		answer(w, nil, err)
		return
	}
	answer(w, map[string]any{"RevokedCerts": []any{}, "CRL": ""}, nil)
}

// authenticate reads the body and checks the request's registrar token.
func (c *CA) authenticate(r *http.Request) (string, []byte, error) {
	body, err := readBody(r)
	if err != nil {
		return "", nil, refuse(400, "cannot read the body")
	}
	id, err := c.authenticateToken(r.Header.Get("Authorization"), r.Method, r.URL.Path, body)
	return id, body, err
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return b, nil
}

// answer writes the Fabric CA answer envelope.
func answer(w http.ResponseWriter, result any, err error) {
	w.Header().Set("Content-Type", "application/json")
	env := map[string]any{"success": err == nil, "result": result, "errors": []any{}, "messages": []any{}}
	status := http.StatusOK
	if err != nil {
		status = http.StatusInternalServerError
		var re *RequestError
		if errors.As(err, &re) {
			status = re.Status
		}
		env["errors"] = []any{map[string]any{"code": status, "message": err.Error()}}
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(env)
}

// Mux serves several CAs on one listener, each under /<MSP ID> (e.g.
// /MerchantMSP/api/v1/enroll), so that a Fabric CA client's URL is the listener's plus the
// organisation's path.
func Mux(cas ...*CA) http.Handler {
	mux := http.NewServeMux()
	for _, c := range cas {
		mux.Handle("/"+c.mspID+"/", http.StripPrefix("/"+c.mspID, c.Handler()))
	}
	return mux
}
