package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/network/devnet"
)

// connectionInfo is what `xborder devnet` prints (and writes to <data>/connection.json) so
// Gateway clients in any language can connect.
type connectionInfo struct {
	Channel   string            `json:"channel"`
	Chaincode string            `json:"chaincode"`
	Peers     []devnet.PeerInfo `json:"peers"`
}

func runDevnet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./xborder-data", "data directory `DIR` (crypto material and ledger; reused across restarts)")
	ccAddress := fs.String("chaincode-address", "", "`HOST:PORT` of a chaincode-as-a-service server to attach (default: the xborder chaincode, served in-process)")
	ccName := fs.String("chaincode", devapp.ChaincodeName, "chaincode `NAME`")
	ccVersion := fs.String("chaincode-version", "1.0", "chaincode definition `VERSION`")
	ccPolicy := fs.String("endorsement-policy", "", "chaincode endorsement `POLICY`, e.g. \"OR('BankMSP.peer','MerchantMSP.peer')\" (default: that of xborder dev for the in-process xborder chaincode, else MAJORITY of the organisations)")
	collections := fs.String("collections", "", "`FILE`: the chaincode's collections_config.json (default: the xborder chaincode's for the in-process chaincode)")
	listen := fs.String("listen", devnet.DefaultListenHost, "`HOST` the peers listen on")
	port := fs.Int("port", 7051, "`PORT` of the first peer; peer i listens on port+i (0 = free ports)")
	channel := fs.String("channel", devnet.DefaultChannel, "channel `NAME`")
	plaintext := fs.Bool("plaintext", false, "serve without TLS")
	batchTimeout := fs.Duration("batch-timeout", 0, fmt.Sprintf("orderer batch `TIMEOUT` (default %s, or %s with --cut-when-idle, where it only bounds how long a block is held while the peers commit)", devnet.DefaultBatchTimeout, devnet.DefaultIdleBatchTimeout))
	maxBatch := fs.Int("max-batch", devnet.DefaultMaxBatch, "maximum transactions per block (`N`)")
	cutWhenIdle := fs.Bool("cut-when-idle", true, "cut a block as soon as no other transaction is expected: at once for a lone one, after the peers' commit in progress under load (false: always wait for --batch-timeout, as Fabric does)")
	attachTimeout := fs.Duration("attach-timeout", 30*time.Second, "how long (`DURATION`) to wait for the chaincode server at start")
	delays := commitDelays{}
	fs.Var(delays, "commit-delay", "per-organisation peer commit delay, `MSPID=DURATION,...`, e.g. MerchantMSP=300ms,BankMSP=0: each block is committed by that organisation's peer this long after it was ordered, so its reads lag behind (default: no delay)")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger := textLogger(stderr, *verbose)

	inProcess := *ccAddress == ""
	if inProcess {
		if *ccName != devapp.ChaincodeName {
			return usageError{fmt.Errorf("--chaincode-address is required for chaincode %q (only %q runs in-process)", *ccName, devapp.ChaincodeName)}
		}
		if *ccPolicy == "" {
			*ccPolicy = devapp.EndorsementPolicy
		}
		if *collections == "" {
			*collections = string(chaincode.CollectionsConfigJSON)
		}
		addr, stop, err := devapp.ServeChaincode(devapp.ChaincodeName + ":devnet")
		if err != nil {
			return err
		}
		defer stop()
		*ccAddress = addr
		logger.Info("xborder chaincode served in-process", "address", addr)
	}
	def := devnet.ChaincodeDefinition{
		Name:              *ccName,
		Version:           *ccVersion,
		EndorsementPolicy: *ccPolicy,
		Collections:       *collections,
	}
	if *batchTimeout == 0 {
		*batchTimeout = devnet.DefaultBatchTimeout
		if *cutWhenIdle {
			*batchTimeout = devnet.DefaultIdleBatchTimeout
		}
	}
	cfg := devnet.Config{
		DataDir:      *data,
		Channel:      *channel,
		Chaincodes:   []devnet.ChaincodeDefinition{def},
		BatchTimeout: *batchTimeout,
		MaxBatch:     *maxBatch,
		CutWhenIdle:  *cutWhenIdle,
		ListenHost:   *listen,
		BasePort:     *port,
		Plaintext:    *plaintext,
		CommitDelay:  delays,
	}
	net, err := devnet.Start(ctx, cfg, devnet.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("start devnet: %w", err)
	}
	defer func() {
		if err := net.Close(); err != nil {
			logger.Error("close devnet", "error", err)
		}
	}()
	actx, cancel := context.WithTimeout(ctx, *attachTimeout)
	err = net.AttachChaincode(actx, *ccName, *ccAddress, nil)
	cancel()
	if err != nil {
		return fmt.Errorf("attach chaincode: %w", err)
	}
	logger.Info("chaincode ready", "name", *ccName, "address", *ccAddress)

	info := connectionInfo{Channel: net.Channel(), Chaincode: *ccName, Peers: net.Peers()}
	if err := writeConnectionInfo(filepath.Join(*data, "connection.json"), info); err != nil {
		return err
	}
	printConnectionInfo(stdout, info, filepath.Join(*data, "connection.json"))

	<-ctx.Done()
	logger.Info("shutting down")
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}

// commitDelays is the --commit-delay flag: MSP ID = duration pairs, comma-separated; the flag
// may be repeated.
type commitDelays map[string]time.Duration

func (d commitDelays) String() string {
	parts := make([]string, 0, len(d))
	for _, id := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, id+"="+d[id].String())
	}
	return strings.Join(parts, ",")
}

func (d commitDelays) Set(s string) error {
	for _, pair := range strings.Split(s, ",") {
		id, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || id == "" {
			return fmt.Errorf("%q is not MSPID=duration", pair)
		}
		if v == "0" {
			d[id] = 0
			continue
		}
		delay, err := time.ParseDuration(v)
		if err != nil || delay < 0 {
			return fmt.Errorf("%q: the delay of %s is not a non-negative duration such as 300ms", pair, id)
		}
		d[id] = delay
	}
	return nil
}

func writeConnectionInfo(path string, info connectionInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode connection info: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil { //nolint:gosec // connection.json holds only public endpoints and certificate paths, meant for any client
		return fmt.Errorf("write connection info: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write connection info: %w", err)
	}
	return nil
}

func printConnectionInfo(w io.Writer, info connectionInfo, path string) {
	fmt.Fprintf(w, "devnet ready: channel %q, chaincode %q\n", info.Channel, info.Chaincode)
	for _, p := range info.Peers {
		scheme := "grpcs"
		if !p.TLS {
			scheme = "grpc"
		}
		fmt.Fprintf(w, "\n%s\n", p.MSPID)
		fmt.Fprintf(w, "  peer endpoint:    %s://%s (TLS server name %s)\n", scheme, p.Address, p.Name)
		fmt.Fprintf(w, "  TLS CA:           %s\n", p.TLSCACertPath)
		fmt.Fprintf(w, "  client cert:      %s\n", p.ClientCertPath)
		fmt.Fprintf(w, "  client key:       %s\n", p.ClientKeyPath)
	}
	fmt.Fprintf(w, "\nconnection details written to %s\n", path)
}
