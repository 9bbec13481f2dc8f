#!/usr/bin/env bash
# network.sh runs the xborder network on Hyperledger Fabric v3 release binaries, without Docker.
#
#   network.sh up       generate crypto material and the genesis block of channel xborder, start
#                       the ordering service and one peer per organisation on 127.0.0.1, join
#                       them to the channel and wait until the network is ready
#   network.sh deploy   build and install the chaincode-as-a-service package on every peer,
#                       approve it for the five organisations, commit it with the endorsement
#                       policy and chaincode/collections_config.json, start the chaincode server
#                       and write gateway.yaml, credentials.json and store.keys (and, with
#                       XBORDER_GATEWAY_TLS, the gateway's TLS files in gateway-tls/)
#                       (--upgrade: commit a new definition sequence even if one is committed)
#   network.sh status   show the processes, channel heights and the committed chaincode
#   network.sh down     stop the processes this script started (by PID) and remove the state
#   network.sh topology print the organisations and their ports
#
# Inside docker-compose.yaml's setup containers it runs with XBORDER_FABRIC_TARGET=docker, where
# `generate`, `join` and `deploy` address the nodes by their host names and start no processes.
#
# Environment:
#   FABRIC_BIN                 directory with peer, orderer, configtxgen, cryptogen, osnadmin
#                              (required natively; from PATH when XBORDER_FABRIC_TARGET=docker)
#   FABRIC_CFG                 directory with Fabric's core.yaml and orderer.yaml
#                              (default $FABRIC_BIN/../config, as release archives lay it out)
#   FABRIC_BUILDERS            directory holding the ccaas external builder (ccaas/bin/{detect,
#                              build,release}); default $FABRIC_BIN/../builders
#   XBORDER_FABRIC_HOME        state, logs and PIDs (default ./fabric-data)
#   XBORDER_FABRIC_CONSENSUS   etcdraft (default, one Raft node) or BFT (four SmartBFT nodes)
#   XBORDER_FABRIC_CRYPTO      cryptogen (default) or ca: enrol every identity with one Fabric CA
#                              server per organisation (needs FABRIC_CA_BIN with fabric-ca-server
#                              and fabric-ca-client); users get the attribute role in their
#                              certificates; each member organisation's CA gets the registrar
#                              gateway-registrar, and deploy writes the CAs into gateway.yaml and
#                              the registrars' secrets into gateway.env (mode 0600), so that
#                              managed API keys have Fabric identities of their own
#   XBORDER_CHAINCODE_TLS      true: mutual TLS between the peers and the chaincode server, with a
#                              CA of its own (native network; set it for `up`, deploy follows)
#   XBORDER_FABRIC_TIMEOUT     seconds to wait for readiness (default 180)
#   XBORDER_FABRIC_LOG_SPEC    FABRIC_LOGGING_SPEC of the nodes (default INFO)
#   XBORDER_GATEWAY_LISTEN     listen address written to gateway.yaml (default 127.0.0.1:8080)
#   XBORDER_GATEWAY_TLS        none (default: plain HTTP), tls or mtls: deploy makes a CA of the
#                              gateway's own (not an organisation's Fabric TLS CA), a server
#                              certificate and, for mtls, a client certificate for platforms, in
#                              gateway-tls/, and writes the tls section of gateway.yaml
#   XBORDER_GATEWAY_TLS_HOSTS  names and addresses of that server certificate (default
#                              127.0.0.1,localhost; add the host clients use)
#   XBORDER_CHAINCODE_LABEL    package label (default xborder_1.0) and
#   XBORDER_CHAINCODE_VERSION  definition version (default 1.0); change both, with deploy
#                              --upgrade, to roll out a new chaincode (docs/operations.md)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
# The chaincode's own collections config, used as is (never a copy).
COLLECTIONS_CONFIG="$REPO_ROOT/chaincode/collections_config.json"

TARGET="${XBORDER_FABRIC_TARGET:-native}"
CONSENSUS="${XBORDER_FABRIC_CONSENSUS:-etcdraft}"
CRYPTO="${XBORDER_FABRIC_CRYPTO:-cryptogen}"
CC_TLS="${XBORDER_CHAINCODE_TLS:-false}"
TIMEOUT="${XBORDER_FABRIC_TIMEOUT:-180}"
LOG_SPEC="${XBORDER_FABRIC_LOG_SPEC:-INFO}"
GATEWAY_LISTEN="${XBORDER_GATEWAY_LISTEN:-127.0.0.1:8080}"
GATEWAY_TLS="${XBORDER_GATEWAY_TLS:-none}"
GATEWAY_TLS_HOSTS="${XBORDER_GATEWAY_TLS_HOSTS:-127.0.0.1,localhost}"

CHANNEL=xborder
CC_NAME=xborder
CC_LABEL="${XBORDER_CHAINCODE_LABEL:-xborder_1.0}"
CC_VERSION="${XBORDER_CHAINCODE_VERSION:-1.0}"
CC_PORT=9999
DOMAIN=xborder.example
ENDORSEMENT_POLICY="OutOf(2, 'MerchantMSP.peer', 'BankMSP.peer', 'CarrierMSP.peer', 'CustomsMSP.peer')"
MARKER=.xborder-fabric

# The organisations and their ports (network/fabric/topology.go holds the same table; a test
# compares them). Columns: key MSP-ID peer-port chaincode-port operations-port. The four
# members, then the read-only regulator: it has a peer, joins the channel, installs and approves
# the chaincode (its peer runs the queries) and holds paymentPrivate, but the endorsement policy
# does not name it.
ORGS=(merchant bank carrier customs regulator)
declare -A ORG_MSP=([merchant]=MerchantMSP [bank]=BankMSP [carrier]=CarrierMSP [customs]=CustomsMSP [regulator]=RegulatorMSP)
declare -A ORG_PEER_PORT=([merchant]=7051 [bank]=8051 [carrier]=9051 [customs]=10051 [regulator]=11051)
declare -A ORG_CC_PORT=([merchant]=7052 [bank]=8052 [carrier]=9052 [customs]=10052 [regulator]=11052)
declare -A ORG_OPS_PORT=([merchant]=9444 [bank]=9445 [carrier]=9446 [customs]=9447 [regulator]=9448)
# Ordering nodes. Columns: name port admin-port operations-port.
ORDERER_NAMES=(orderer orderer2 orderer3 orderer4)
declare -A ORDERER_PORT=([orderer]=7050 [orderer2]=7150 [orderer3]=7250 [orderer4]=7350)
declare -A ORDERER_ADMIN_PORT=([orderer]=7053 [orderer2]=7153 [orderer3]=7253 [orderer4]=7353)
declare -A ORDERER_OPS_PORT=([orderer]=9443 [orderer2]=9453 [orderer3]=9463 [orderer4]=9473)

log() { printf '%s network.sh: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit "${1:-2}"
}

# ---------------------------------------------------------------------------------------------
# settings

setup_paths() {
  FABRIC_HOME="${XBORDER_FABRIC_HOME:-./fabric-data}"
  [[ "$FABRIC_HOME" == /* ]] || FABRIC_HOME="$PWD/${FABRIC_HOME#./}"
  FABRIC_HOME="${FABRIC_HOME%/}"
  case "$TARGET" in
    native)
      # FABRIC_BIN is checked by require_bins, so that down works without it.
      FABRIC_BIN="${FABRIC_BIN:-}"
      if [[ -n "$FABRIC_BIN" && -d "$FABRIC_BIN" ]]; then
        FABRIC_BIN="$(cd "$FABRIC_BIN" && pwd)"
      fi
      FABRIC_CFG="${FABRIC_CFG:-$FABRIC_BIN/../config}"
      FABRIC_BUILDERS="${FABRIC_BUILDERS:-$FABRIC_BIN/../builders}"
      ;;
    docker)
      if [[ -z "${FABRIC_BIN:-}" ]]; then
        FABRIC_BIN="$(dirname "$(command -v peer || echo /usr/local/bin/peer)")"
      fi
      FABRIC_CFG="${FABRIC_CFG:-/etc/hyperledger/fabric}"
      FABRIC_BUILDERS="${FABRIC_BUILDERS:-}"
      ;;
    *) die "XBORDER_FABRIC_TARGET must be native or docker, not $TARGET" ;;
  esac
  # An existing network keeps the consensus and chaincode TLS mode it was made with.
  if [[ -f "$FABRIC_HOME/$MARKER" ]]; then
    local recorded
    recorded="$(sed -n 's/^consensus=//p' "$FABRIC_HOME/$MARKER")"
    CONSENSUS="${recorded:-$CONSENSUS}"
    recorded="$(sed -n 's/^chaincode_tls=//p' "$FABRIC_HOME/$MARKER")"
    CC_TLS="${recorded:-$CC_TLS}"
  fi
  case "$CONSENSUS" in
    etcdraft) PROFILE=XborderRaft; ACTIVE_ORDERERS=(orderer) ;;
    BFT) PROFILE=XborderBFT; ACTIVE_ORDERERS=("${ORDERER_NAMES[@]}") ;;
    *) die "XBORDER_FABRIC_CONSENSUS must be etcdraft or BFT, not $CONSENSUS" ;;
  esac
  case "$CRYPTO" in
    cryptogen | ca) ;;
    *) die "XBORDER_FABRIC_CRYPTO must be cryptogen or ca, not $CRYPTO" ;;
  esac
  case "$CC_TLS" in
    true | false) ;;
    *) die "XBORDER_CHAINCODE_TLS must be true or false, not $CC_TLS" ;;
  esac
  if [[ "$TARGET" == docker && "$CC_TLS" == true ]]; then
    die "XBORDER_CHAINCODE_TLS=true is for the native network; docker-compose.yaml keeps the chaincode on its private network"
  fi
  CC_TLS_DIR="$FABRIC_HOME/chaincode-tls"
  ORG_DIR="$FABRIC_HOME/organizations"
  ORDERER_ORG_DIR="$ORG_DIR/ordererOrganizations/$DOMAIN"
  ORDERER_CA="$ORDERER_ORG_DIR/tlsca/tlsca.$DOMAIN-cert.pem"
  ORDERER_ADMIN_TLS="$ORDERER_ORG_DIR/users/Admin@$DOMAIN/tls"
  GENESIS_BLOCK="$FABRIC_HOME/channel-artifacts/$CHANNEL.block"
  RUN_DIR="$FABRIC_HOME/run"
  LOG_DIR="$FABRIC_HOME/logs"
}

require_bins() {
  local b
  [[ -n "$FABRIC_BIN" ]] || die "FABRIC_BIN must name the directory with Fabric's peer, orderer, configtxgen, cryptogen and osnadmin"
  for b in "$@"; do
    [[ -x "$FABRIC_BIN/$b" ]] || die "$FABRIC_BIN/$b is missing or not executable"
  done
}

# host NAME: the address clients use for a node host name: 127.0.0.1 natively, the host name
# itself on the compose network.
host() { if [[ "$TARGET" == native ]]; then echo 127.0.0.1; else echo "$1"; fi; }

peer_host() { echo "peer0.$1.$DOMAIN"; }
org_dir() { echo "$ORG_DIR/peerOrganizations/$1.$DOMAIN"; }
peer_tls_ca() { echo "$(org_dir "$1")/tlsca/tlsca.$1.$DOMAIN-cert.pem"; }
orderer_endpoint() { echo "$(host "$1.$DOMAIN"):${ORDERER_PORT[$1]}"; }

# peer_cli ORG ARGS...: runs the peer CLI as ORG's admin against ORG's peer, with nothing of the
# caller's CORE_* environment.
peer_cli() {
  local org="$1"; shift
  env -i PATH="/usr/bin:/bin" HOME="$FABRIC_HOME" FABRIC_CFG_PATH="$FABRIC_CFG" \
    FABRIC_LOGGING_SPEC=ERROR \
    CORE_PEER_LOCALMSPID="${ORG_MSP[$org]}" \
    CORE_PEER_MSPCONFIGPATH="$(org_dir "$org")/users/Admin@$org.$DOMAIN/msp" \
    CORE_PEER_ADDRESS="$(host "$(peer_host "$org")"):${ORG_PEER_PORT[$org]}" \
    CORE_PEER_TLS_ENABLED=true \
    CORE_PEER_TLS_ROOTCERT_FILE="$(peer_tls_ca "$org")" \
    "$FABRIC_BIN/peer" "$@"
}

# orderer_args: the flags peer CLI commands need to reach the ordering service.
orderer_args() {
  echo "-o $(orderer_endpoint orderer) --tls --cafile $ORDERER_CA"
}

# wait_for DESCRIPTION COMMAND...: retries COMMAND once a second until it succeeds or TIMEOUT;
# natively it gives up at once if a process this script started has exited.
wait_for() {
  local what="$1"; shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      die "timed out after ${TIMEOUT}s waiting for $what"
    fi
    if [[ "$TARGET" == native ]]; then
      check_processes
    fi
    sleep 1
  done
  log "ready: $what"
}

# check_processes: fails, showing the end of its log, if a process this script started has exited.
check_processes() {
  local f name
  for f in "$RUN_DIR"/*.pid; do
    [[ -e "$f" ]] || continue
    name="$(basename "$f" .pid)"
    if ! running "$name"; then
      tail -n 20 "$LOG_DIR/$name.log" >&2 || true
      die "$name exited; see $LOG_DIR/$name.log"
    fi
  done
}

# check_home_free: fails unless XBORDER_FABRIC_HOME is absent or empty.
check_home_free() {
  if [[ -f "$FABRIC_HOME/$MARKER" ]]; then
    die "$FABRIC_HOME already holds a network; run '$0 down' first"
  fi
  if [[ -d "$FABRIC_HOME" && -n "$(ls -A "$FABRIC_HOME")" ]]; then
    die "$FABRIC_HOME is not empty; choose another XBORDER_FABRIC_HOME or remove it"
  fi
}

# check_ports_free PORT...: fails if anything listens on one of the loopback ports.
check_ports_free() {
  local port
  for port in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "port $port on 127.0.0.1 is in use (another network?); stop it first"
    fi
  done
}

metric() { curl -fsS --max-time 3 "http://$1/metrics" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# generate: crypto material, configtx.yaml for this target, genesis block

cmd_generate() {
  require_bins cryptogen configtxgen
  if [[ -f "$FABRIC_HOME/$MARKER" && "$TARGET" == docker ]]; then
    # docker-compose.yaml runs generate on every `up`: keep the network it made the first time.
    log "crypto material and genesis block already in $FABRIC_HOME"
    return 0
  fi
  check_home_free
  mkdir -p "$FABRIC_HOME/channel-artifacts" "$RUN_DIR" "$LOG_DIR"
  printf 'target=%s\nconsensus=%s\ncrypto=%s\nchaincode_tls=%s\n' "$TARGET" "$CONSENSUS" "$CRYPTO" "$CC_TLS" >"$FABRIC_HOME/$MARKER"

  if [[ "$CRYPTO" == ca ]]; then
    generate_crypto_ca
  else
    log "generating crypto material (cryptogen)"
    "$FABRIC_BIN/cryptogen" generate --config="$SCRIPT_DIR/crypto-config.yaml" --output="$ORG_DIR" >/dev/null
  fi

  # The native network listens on 127.0.0.1: point host names in Host: fields and in quoted
  # "host:port" endpoints at it. File paths (which contain the domain too) are left alone.
  if [[ "$TARGET" == native ]]; then
    sed -E -e "s/(Host: *)[a-z0-9-]+(\.[a-z0-9-]+)*\.$DOMAIN *\$/\1127.0.0.1/" \
      -e "s/\"[a-z0-9-]+(\.[a-z0-9-]+)*\.$DOMAIN:([0-9]+)\"/\"127.0.0.1:\2\"/g" \
      "$SCRIPT_DIR/configtx.yaml" >"$FABRIC_HOME/configtx.yaml"
  else
    cp "$SCRIPT_DIR/configtx.yaml" "$FABRIC_HOME/configtx.yaml"
  fi

  log "generating the genesis block of channel $CHANNEL (profile $PROFILE)"
  (cd "$FABRIC_HOME" && FABRIC_LOGGING_SPEC=WARNING "$FABRIC_BIN/configtxgen" -configPath "$FABRIC_HOME" \
    -profile "$PROFILE" -channelID "$CHANNEL" -outputBlock "$GENESIS_BLOCK")
}

# ---------------------------------------------------------------------------------------------
# Fabric CA enrolment (XBORDER_FABRIC_CRYPTO=ca): one CA server per organisation, every node and
# user registered and enrolled through it, laid out exactly as cryptogen lays its output out, so
# everything else is unchanged. The CA issues both the identity and the TLS certificates (TLS
# certificates with its `tls` profile); the servers keep running, so more identities can be
# enrolled, and `down` stops them.

# ca_port KEY: the CA server port of an organisation ("orderer" for the orderer organisation).
ca_port() {
  case "$1" in
    merchant) echo 7054 ;; bank) echo 8054 ;; carrier) echo 9054 ;; customs) echo 10054 ;; orderer) echo 11054 ;;
    regulator) echo 12054 ;;
  esac
}

# ca_client KEY ARGS...: runs fabric-ca-client against the organisation's CA as its registrar.
ca_client() {
  local key="$1"; shift
  env -i PATH="/usr/bin:/bin" HOME="$FABRIC_HOME" FABRIC_CA_CLIENT_HOME="$FABRIC_HOME/fabric-ca/$key/client" \
    "$FABRIC_CA_BIN/fabric-ca-client" "$@" \
    --caname "ca-$key" --tls.certfiles "$FABRIC_HOME/fabric-ca/$key/server/tls-cert.pem" >>"$LOG_DIR/ca-client.$key.log" 2>&1 ||
    die "fabric-ca-client $1 failed for the $key CA; see $LOG_DIR/ca-client.$key.log"
}

ca_ready() { curl -fsS --max-time 3 --cacert "$FABRIC_HOME/fabric-ca/$1/server/tls-cert.pem" "https://127.0.0.1:$(ca_port "$1")/cainfo" >/dev/null 2>&1; }

# node_ou_config CACERT: the MSP config.yaml classifying identities by their OU (NodeOUs).
node_ou_config() {
  local ou
  echo "NodeOUs:"
  echo "  Enable: true"
  for ou in Client Peer Admin Orderer; do
    printf '  %sOUIdentifier:\n    Certificate: cacerts/%s\n    OrganizationalUnitIdentifier: %s\n' "$ou" "$1" "${ou,,}"
  done
}

# normalise_msp DIR NAME: renames an enrolled MSP's files to cryptogen's names (cacerts/ca.pem,
# signcerts/NAME-cert.pem, keystore/priv_sk) and adds the NodeOU config.
normalise_msp() {
  local dir="$1" name="$2" f
  for f in "$dir"/cacerts/*.pem; do [[ "$f" == "$dir/cacerts/ca.pem" ]] || mv "$f" "$dir/cacerts/ca.pem"; done
  for f in "$dir"/signcerts/*.pem; do [[ "$f" == "$dir/signcerts/$name-cert.pem" ]] || mv "$f" "$dir/signcerts/$name-cert.pem"; done
  for f in "$dir"/keystore/*; do [[ "$f" == "$dir/keystore/priv_sk" ]] || mv "$f" "$dir/keystore/priv_sk"; done
  mkdir -p "$dir/tlscacerts"
  cp "$dir/cacerts/ca.pem" "$dir/tlscacerts/ca.pem"
  node_ou_config ca.pem >"$dir/config.yaml"
}

# enroll_tls KEY USER SECRET HOSTS DIR CERT KEYFILE: enrols a TLS certificate into DIR as
# CERT / KEYFILE / ca.crt.
enroll_tls() {
  local key="$1" user="$2" secret="$3" hosts="$4" dir="$5" cert="$6" keyfile="$7" tmp
  tmp="$(mktemp -d "$FABRIC_HOME/fabric-ca/tls.XXXXXX")"
  ca_client "$key" enroll -u "https://$user:$secret@127.0.0.1:$(ca_port "$key")" --enrollment.profile tls \
    --csr.hosts "$hosts" --mspdir "$tmp"
  mkdir -p "$dir"
  cp "$tmp"/signcerts/*.pem "$dir/$cert"
  cp "$tmp"/keystore/* "$dir/$keyfile"
  cp "$tmp"/tlscacerts/*.pem "$dir/ca.crt"
  rm -rf "$tmp"
}

# ca_org KEY DOMAIN BASE: starts the organisation's CA and enrols its nodes and users under BASE
# (organizations/{peer,orderer}Organizations/DOMAIN).
ca_org() {
  local key="$1" domain="$2" base="$3" port home secret node
  port="$(ca_port "$key")"
  home="$FABRIC_HOME/fabric-ca/$key/server"
  secret="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  mkdir -p "$home" "$FABRIC_HOME/fabric-ca/$key/client"
  start_process "ca.$key" \
    FABRIC_CA_SERVER_HOME="$home" \
    FABRIC_CA_SERVER_OPERATIONS_LISTENADDRESS="127.0.0.1:$((port + 10000))" \
    "$FABRIC_CA_BIN/fabric-ca-server" start -b "registrar:$secret" --port "$port" --address 127.0.0.1 \
    --ca.name "ca-$key" --csr.cn "ca.$domain" --csr.hosts "ca.$domain,localhost,127.0.0.1" --tls.enabled
  wait_for "CA of $domain" ca_ready "$key"
  ca_client "$key" enroll -u "https://registrar:$secret@127.0.0.1:$port"

  # The organisation's channel MSP, CA and TLS CA (one CA issues both kinds of certificate).
  mkdir -p "$base/msp/cacerts" "$base/msp/tlscacerts" "$base/ca" "$base/tlsca"
  cp "$home/ca-cert.pem" "$base/msp/cacerts/ca.pem"
  cp "$home/ca-cert.pem" "$base/msp/tlscacerts/ca.pem"
  cp "$home/ca-cert.pem" "$base/ca/ca.$domain-cert.pem"
  cp "$home/ca-cert.pem" "$base/tlsca/tlsca.$domain-cert.pem"
  node_ou_config ca.pem >"$base/msp/config.yaml"

  local nodes=() node_type=peer node_dir=peers
  if [[ "$key" == orderer ]]; then
    node_type=orderer node_dir=orderers
    for node in "${ACTIVE_ORDERERS[@]}"; do nodes+=("$node.$domain"); done
  else
    nodes=("peer0.$domain")
  fi
  for node in "${nodes[@]}"; do
    ca_client "$key" register --id.name "$node" --id.secret "$secret" --id.type "$node_type"
    ca_client "$key" enroll -u "https://$node:$secret@127.0.0.1:$port" --csr.hosts "$node" --mspdir "$base/$node_dir/$node/msp"
    normalise_msp "$base/$node_dir/$node/msp" "$node"
    enroll_tls "$key" "$node" "$secret" "$node,localhost,127.0.0.1" "$base/$node_dir/$node/tls" server.crt server.key
  done
  # Admin (NodeOU admin) and, in member organisations, the gateway's client identity User1 with
  # the attribute role=gateway in its certificate.
  ca_client "$key" register --id.name Admin --id.secret "$secret" --id.type admin --id.attrs "role=admin:ecert"
  ca_client "$key" enroll -u "https://Admin:$secret@127.0.0.1:$port" --mspdir "$base/users/Admin@$domain/msp"
  normalise_msp "$base/users/Admin@$domain/msp" "Admin@$domain"
  enroll_tls "$key" Admin "$secret" localhost "$base/users/Admin@$domain/tls" client.crt client.key
  if [[ "$key" != orderer ]]; then
    ca_client "$key" register --id.name User1 --id.secret "$secret" --id.type client --id.attrs "role=gateway:ecert"
    ca_client "$key" enroll -u "https://User1:$secret@127.0.0.1:$port" --mspdir "$base/users/User1@$domain/msp"
    normalise_msp "$base/users/User1@$domain/msp" "User1@$domain"
    # The gateway's registrar for the identities of managed API keys: it may register client
    # identities carrying xborder.* attributes (xborder.merchantId, xborder.role) and revoke
    # them, and nothing else. Its secret stays in a 0600 file; deploy puts it in gateway.env.
    local reg_secret
    reg_secret="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    ca_client "$key" register --id.name gateway-registrar --id.secret "$reg_secret" --id.type client \
      --id.attrs 'hf.Registrar.Roles=client,hf.Registrar.Attributes=xborder.*,hf.Revoker=true'
    (umask 077 && printf '%s\n' "$reg_secret" >"$FABRIC_HOME/fabric-ca/$key/gateway-registrar.secret")
  fi
  log "enrolled the identities of $domain with its Fabric CA (127.0.0.1:$port)"
}

generate_crypto_ca() {
  [[ "$TARGET" == native ]] || die "XBORDER_FABRIC_CRYPTO=ca runs the CA servers natively; docker-compose.yaml uses cryptogen"
  [[ -n "${FABRIC_CA_BIN:-}" && -x "$FABRIC_CA_BIN/fabric-ca-server" && -x "$FABRIC_CA_BIN/fabric-ca-client" ]] ||
    die "XBORDER_FABRIC_CRYPTO=ca needs FABRIC_CA_BIN, the directory with fabric-ca-server and fabric-ca-client"
  local org
  ca_org orderer "$DOMAIN" "$ORDERER_ORG_DIR"
  for org in "${ORGS[@]}"; do
    ca_org "$org" "$org.$DOMAIN" "$(org_dir "$org")"
  done
}

# ---------------------------------------------------------------------------------------------
# native processes

# start_process NAME COMMAND...: starts COMMAND in the background in its own session with only
# the environment given (env -i, so nothing leaks from the caller's shell, such as
# CORE_PEER_TLS_ENABLED), logging to logs/NAME.log, PID in run/NAME.pid.
start_process() {
  local name="$1"; shift
  local pidfile="$RUN_DIR/$name.pid" arg program=""
  if running "$name"; then
    die "$name is already running (PID $(pid_of "$name"))"
  fi
  for arg in "$@"; do
    [[ "$arg" == *=* ]] || { program="$arg"; break; }
  done
  # Its own session (where setsid exists), so a Ctrl-C in the caller's terminal does not reach it.
  local session=()
  command -v setsid >/dev/null && session=(setsid)
  "${session[@]}" env -i PATH="/usr/bin:/bin" HOME="$FABRIC_HOME" "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  printf '%s %s\n' "$!" "$program" >"$pidfile"
  log "started $name (PID $!, log $LOG_DIR/$name.log)"
}

# pid_of NAME: the PID recorded for NAME.
pid_of() { cut -d' ' -f1 "$RUN_DIR/$1.pid"; }

# running NAME: the process recorded in run/NAME.pid is alive and still runs the program this
# script started (a PID reused by another program after a reboot is never signalled).
running() {
  local pidfile="$RUN_DIR/$1.pid" pid program
  [[ -f "$pidfile" ]] || return 1
  read -r pid program <"$pidfile"
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -z "$program" ]] || ps -p "$pid" -o args= 2>/dev/null | grep -qF -- "$program"
}

# stop_processes NAME...: stops the processes recorded in run/NAME.pid that are still running:
# SIGTERM to all of them, then SIGKILL to any still there after 15 seconds.
stop_processes() {
  local name pid i alive
  local -A pids=()
  for name in "$@"; do
    [[ -f "$RUN_DIR/$name.pid" ]] || continue
    if running "$name"; then
      pid="$(pid_of "$name")"
      kill -TERM "$pid" 2>/dev/null || true
      pids[$name]="$pid"
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
  for i in $(seq 1 75); do
    alive=0
    for name in "${!pids[@]}"; do
      kill -0 "${pids[$name]}" 2>/dev/null && alive=1
    done
    ((alive)) || break
    sleep 0.2
  done
  for name in "${!pids[@]}"; do
    if kill -0 "${pids[$name]}" 2>/dev/null; then
      log "$name (PID ${pids[$name]}) did not stop; killing it"
      kill -KILL "${pids[$name]}" 2>/dev/null || true
    fi
    log "stopped $name (PID ${pids[$name]})"
  done
}

start_orderer() {
  local name="$1" dir="$ORDERER_ORG_DIR/orderers/$1.$DOMAIN" data="$FABRIC_HOME/nodes/$1.$DOMAIN"
  mkdir -p "$data"
  start_process "$name" \
    FABRIC_CFG_PATH="$FABRIC_CFG" \
    FABRIC_LOGGING_SPEC="$LOG_SPEC" \
    ORDERER_GENERAL_LISTENADDRESS=127.0.0.1 \
    ORDERER_GENERAL_LISTENPORT="${ORDERER_PORT[$name]}" \
    ORDERER_GENERAL_LOCALMSPID=OrdererMSP \
    ORDERER_GENERAL_LOCALMSPDIR="$dir/msp" \
    ORDERER_GENERAL_BOOTSTRAPMETHOD=none \
    ORDERER_GENERAL_TLS_ENABLED=true \
    ORDERER_GENERAL_TLS_PRIVATEKEY="$dir/tls/server.key" \
    ORDERER_GENERAL_TLS_CERTIFICATE="$dir/tls/server.crt" \
    ORDERER_GENERAL_TLS_ROOTCAS="[$dir/tls/ca.crt]" \
    ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE="$dir/tls/server.crt" \
    ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY="$dir/tls/server.key" \
    ORDERER_GENERAL_CLUSTER_ROOTCAS="[$dir/tls/ca.crt]" \
    ORDERER_CHANNELPARTICIPATION_ENABLED=true \
    ORDERER_ADMIN_LISTENADDRESS="127.0.0.1:${ORDERER_ADMIN_PORT[$name]}" \
    ORDERER_ADMIN_TLS_ENABLED=true \
    ORDERER_ADMIN_TLS_CERTIFICATE="$dir/tls/server.crt" \
    ORDERER_ADMIN_TLS_PRIVATEKEY="$dir/tls/server.key" \
    ORDERER_ADMIN_TLS_ROOTCAS="[$dir/tls/ca.crt]" \
    ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true \
    ORDERER_ADMIN_TLS_CLIENTROOTCAS="[$dir/tls/ca.crt]" \
    ORDERER_OPERATIONS_LISTENADDRESS="127.0.0.1:${ORDERER_OPS_PORT[$name]}" \
    ORDERER_METRICS_PROVIDER=prometheus \
    ORDERER_FILELEDGER_LOCATION="$data/ledger" \
    ORDERER_CONSENSUS_WALDIR="$data/wal" \
    ORDERER_CONSENSUS_SNAPDIR="$data/snapshot" \
    "$FABRIC_BIN/orderer"
}

start_peer() {
  local org="$1" ph dir data
  ph="$(peer_host "$org")"
  dir="$(org_dir "$org")/peers/$ph"
  data="$FABRIC_HOME/nodes/$ph"
  mkdir -p "$data"
  start_process "peer0.$org" \
    FABRIC_CFG_PATH="$FABRIC_CFG" \
    FABRIC_LOGGING_SPEC="$LOG_SPEC" \
    CORE_PEER_ID="$ph" \
    CORE_PEER_LOCALMSPID="${ORG_MSP[$org]}" \
    CORE_PEER_MSPCONFIGPATH="$dir/msp" \
    CORE_PEER_ADDRESS="127.0.0.1:${ORG_PEER_PORT[$org]}" \
    CORE_PEER_LISTENADDRESS="127.0.0.1:${ORG_PEER_PORT[$org]}" \
    CORE_PEER_CHAINCODEADDRESS="127.0.0.1:${ORG_CC_PORT[$org]}" \
    CORE_PEER_CHAINCODELISTENADDRESS="127.0.0.1:${ORG_CC_PORT[$org]}" \
    CORE_PEER_GOSSIP_BOOTSTRAP="127.0.0.1:${ORG_PEER_PORT[$org]}" \
    CORE_PEER_GOSSIP_EXTERNALENDPOINT="127.0.0.1:${ORG_PEER_PORT[$org]}" \
    CORE_PEER_GOSSIP_RECONNECTINTERVAL=2s \
    CORE_PEER_GOSSIP_ALIVETIMEINTERVAL=2s \
    CORE_PEER_GOSSIP_ALIVEEXPIRATIONTIMEOUT=10s \
    CORE_PEER_GOSSIP_MEMBERSHIPTRACKERINTERVAL=2s \
    CORE_PEER_GOSSIP_PUBLISHSTATEINFOINTERVAL=2s \
    CORE_PEER_GOSSIP_REQUESTSTATEINFOINTERVAL=2s \
    CORE_PEER_TLS_ENABLED=true \
    CORE_PEER_TLS_CERT_FILE="$dir/tls/server.crt" \
    CORE_PEER_TLS_KEY_FILE="$dir/tls/server.key" \
    CORE_PEER_TLS_ROOTCERT_FILE="$dir/tls/ca.crt" \
    CORE_PEER_FILESYSTEMPATH="$data/production" \
    CORE_LEDGER_SNAPSHOTS_ROOTDIR="$data/snapshots" \
    CORE_LEDGER_STATE_STATEDATABASE=goleveldb \
    CORE_LEDGER_HISTORY_ENABLEHISTORYDATABASE=true \
    CORE_OPERATIONS_LISTENADDRESS="127.0.0.1:${ORG_OPS_PORT[$org]}" \
    CORE_METRICS_PROVIDER=prometheus \
    CORE_VM_ENDPOINT= \
    CORE_CHAINCODE_EXTERNALBUILDERS="[{name: ccaas, path: $FABRIC_BUILDERS/ccaas, propagateEnvironment: [CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG]}]" \
    CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG="$BUILDER_CONFIG" \
    "$FABRIC_BIN/peer" node start
}

# ---------------------------------------------------------------------------------------------
# joining the channel and readiness

osnadmin() {
  local name="$1"; shift
  "$FABRIC_BIN/osnadmin" channel "$@" -o "$(host "$name.$DOMAIN"):${ORDERER_ADMIN_PORT[$name]}" \
    --ca-file "$ORDERER_CA" --client-cert "$ORDERER_ADMIN_TLS/client.crt" --client-key "$ORDERER_ADMIN_TLS/client.key"
}

orderer_active() {
  osnadmin "$1" list --channelID "$CHANNEL" 2>/dev/null | grep -q '"status": *"active"'
}

# consensus_has_leader: one ordering node reports itself the channel's consensus leader (Raft
# or SmartBFT), so the ordering service accepts transactions.
consensus_has_leader() {
  local name metric_name=consensus_etcdraft_is_leader
  [[ "$CONSENSUS" == BFT ]] && metric_name=consensus_BFT_is_leader
  for name in "${ACTIVE_ORDERERS[@]}"; do
    if metric "$(host "$name.$DOMAIN"):${ORDERER_OPS_PORT[$name]}" | grep -q "^$metric_name{channel=\"$CHANNEL\"} 1"; then
      return 0
    fi
  done
  return 1
}

peer_healthy() { curl -fsS --max-time 3 "http://$(host "$(peer_host "$1")"):${ORG_OPS_PORT[$1]}/healthz" >/dev/null 2>&1; }
orderer_healthy() { curl -fsS --max-time 3 "http://$(host "$1.$DOMAIN"):${ORDERER_OPS_PORT[$1]}/healthz" >/dev/null 2>&1; }

peer_joined() { peer_cli "$1" channel getinfo -c "$CHANNEL" >/dev/null 2>&1; }

# gossip_complete ORG: ORG's peer knows the other organisations' peers on the channel.
gossip_complete() {
  local want=$((${#ORGS[@]} - 1)) n
  n="$(metric "$(host "$(peer_host "$1")"):${ORG_OPS_PORT[$1]}" |
    sed -n "s/^gossip_membership_total_peers_known{channel=\"$CHANNEL\"} \([0-9]*\).*/\1/p")"
  [[ -n "$n" && "$n" -ge "$want" ]]
}

cmd_join() {
  require_bins osnadmin peer
  local name org
  for name in "${ACTIVE_ORDERERS[@]}"; do
    wait_for "$name operations endpoint" orderer_healthy "$name"
    if orderer_active "$name"; then
      log "$name has already joined $CHANNEL"
    else
      log "joining $name to $CHANNEL (channel participation API)"
      osnadmin "$name" join --channelID "$CHANNEL" --config-block "$GENESIS_BLOCK" >/dev/null
    fi
  done
  for name in "${ACTIVE_ORDERERS[@]}"; do
    wait_for "$name active in $CHANNEL" orderer_active "$name"
  done
  wait_for "$CONSENSUS leader of $CHANNEL" consensus_has_leader
  for org in "${ORGS[@]}"; do
    wait_for "peer0.$org operations endpoint" peer_healthy "$org"
    if peer_joined "$org"; then
      log "peer0.$org has already joined $CHANNEL"
    else
      log "joining peer0.$org to $CHANNEL"
      peer_cli "$org" channel join -b "$GENESIS_BLOCK" >/dev/null
    fi
  done
  for org in "${ORGS[@]}"; do
    wait_for "peer0.$org on $CHANNEL" peer_joined "$org"
  done
  for org in "${ORGS[@]}"; do
    wait_for "peer0.$org gossip membership (all organisations' peers known)" gossip_complete "$org"
  done
}

cmd_up() {
  [[ "$TARGET" == native ]] || die "up starts native processes; in docker-compose.yaml use generate and join"
  require_bins peer orderer configtxgen cryptogen osnadmin
  [[ -f "$FABRIC_CFG/core.yaml" && -f "$FABRIC_CFG/orderer.yaml" ]] ||
    die "FABRIC_CFG=$FABRIC_CFG must hold Fabric's core.yaml and orderer.yaml"
  local b
  for b in detect build release; do
    [[ -x "$FABRIC_BUILDERS/ccaas/bin/$b" ]] || die "$FABRIC_BUILDERS/ccaas/bin/$b is missing: FABRIC_BUILDERS must hold Fabric's ccaas builder"
  done
  command -v curl >/dev/null || die "curl is required to check readiness"
  check_home_free
  local name org ports=("$CC_PORT")
  for name in "${ACTIVE_ORDERERS[@]}"; do
    ports+=("${ORDERER_PORT[$name]}" "${ORDERER_ADMIN_PORT[$name]}" "${ORDERER_OPS_PORT[$name]}")
  done
  for org in "${ORGS[@]}"; do
    ports+=("${ORG_PEER_PORT[$org]}" "${ORG_CC_PORT[$org]}" "${ORG_OPS_PORT[$org]}")
  done
  if [[ "$CRYPTO" == ca ]]; then
    for org in orderer "${ORGS[@]}"; do
      ports+=("$(ca_port "$org")" "$(($(ca_port "$org") + 10000))")
    done
  fi
  check_ports_free "${ports[@]}"
  cmd_generate
  # What each peer's ccaas builder substitutes into the package's connection.json.
  if [[ "$CC_TLS" == true ]]; then
    build_tool
    tool chaincode-tls --dir "$CC_TLS_DIR" --hosts 127.0.0.1,localhost
    BUILDER_CONFIG="$(tool builder-config --address "127.0.0.1:$CC_PORT" --tls-dir "$CC_TLS_DIR")"
    log "chaincode connections use mutual TLS (CA in $CC_TLS_DIR)"
  else
    BUILDER_CONFIG="{\"address\":\"127.0.0.1:$CC_PORT\"}"
  fi
  for name in "${ACTIVE_ORDERERS[@]}"; do
    start_orderer "$name"
  done
  for org in "${ORGS[@]}"; do
    start_peer "$org"
  done
  if ! cmd_join; then
    log "the network did not become ready; logs are in $LOG_DIR"
    exit 1
  fi
  log "network is up: channel $CHANNEL, ordering service $CONSENSUS, state in $FABRIC_HOME"
}

# ---------------------------------------------------------------------------------------------
# deploy: chaincode lifecycle

# build_tool: builds the xborder-fabric helper from this repository (native network).
build_tool() {
  mkdir -p "$FABRIC_HOME/bin"
  (cd "$REPO_ROOT" && go build -o "$FABRIC_HOME/bin/xborder-fabric" ./network/fabric/cmd/xborder-fabric) ||
    die "go build ./network/fabric/cmd/xborder-fabric failed"
}

# tool: the xborder-fabric helper (package, gateway-config, chaincode-tls, builder-config).
tool() {
  if [[ "$TARGET" == docker ]]; then
    xborder-fabric "$@"
  else
    "$FABRIC_HOME/bin/xborder-fabric" "$@"
  fi
}

committed_sequence() {
  peer_cli merchant lifecycle chaincode querycommitted -C "$CHANNEL" -n "$CC_NAME" -O json 2>/dev/null |
    sed -n 's/.*"sequence": *\([0-9]*\).*/\1/p' | head -n1
}

installed() { peer_cli "$1" lifecycle chaincode queryinstalled -O json 2>/dev/null | grep -q "\"package_id\": *\"$2\""; }

committed_on() {
  peer_cli "$1" lifecycle chaincode querycommitted -C "$CHANNEL" -n "$CC_NAME" -O json 2>/dev/null |
    grep -Eq "\"sequence\": *$2[,}[:space:]]"
}

start_chaincode() {
  local pkgid="$1"
  local tls_env=(CHAINCODE_TLS_DISABLED=true)
  if [[ "$CC_TLS" == true ]]; then
    tls_env=(CHAINCODE_TLS_DISABLED=false
      CHAINCODE_TLS_CERT="$CC_TLS_DIR/server.crt"
      CHAINCODE_TLS_KEY="$CC_TLS_DIR/server.key"
      CHAINCODE_CLIENT_CA_CERT="$CC_TLS_DIR/ca.crt")
  fi
  stop_processes chaincode
  start_process chaincode \
    CHAINCODE_SERVER_ADDRESS="127.0.0.1:$CC_PORT" \
    CORE_CHAINCODE_ID_NAME="$pkgid" \
    "${tls_env[@]}" \
    "$FABRIC_HOME/bin/xborder-chaincode"
  local deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.1/$CC_PORT") 2>/dev/null; do
    ((SECONDS < deadline)) || die "the chaincode server did not listen on 127.0.0.1:$CC_PORT; see $LOG_DIR/chaincode.log"
    running chaincode || die "the chaincode server exited; see $LOG_DIR/chaincode.log"
    sleep 0.5
  done
}

cmd_deploy() {
  local upgrade=false arg
  for arg in "$@"; do
    case "$arg" in
      --upgrade) upgrade=true ;;
      *) die "deploy: unknown argument $arg" ;;
    esac
  done
  require_bins peer
  [[ -f "$FABRIC_HOME/$MARKER" ]] || die "no network in $FABRIC_HOME; run '$0 up' first"
  [[ -f "$COLLECTIONS_CONFIG" ]] || die "collections config $COLLECTIONS_CONFIG is missing"
  mkdir -p "$FABRIC_HOME/bin"

  if [[ "$TARGET" == native ]]; then
    log "building xborder-chaincode and xborder-fabric"
    (cd "$REPO_ROOT" && go build -o "$FABRIC_HOME/bin/xborder-chaincode" ./cmd/xborder-chaincode) ||
      die "go build ./cmd/xborder-chaincode failed"
    build_tool
  fi

  local pkg="$FABRIC_HOME/channel-artifacts/$CC_LABEL.tar.gz" pkgid
  local tls_flag=()
  [[ "$CC_TLS" == true ]] && tls_flag=(--tls)
  pkgid="$(tool package --out "$pkg" --label "$CC_LABEL" "${tls_flag[@]}")"
  log "chaincode package $pkgid"

  # Natively the chaincode server runs before the peers build the package, so the ccaas
  # builder's connection check and the first invocation find it listening.
  if [[ "$TARGET" == native ]]; then
    start_chaincode "$pkgid"
  fi

  local org
  for org in "${ORGS[@]}"; do
    if installed "$org" "$pkgid"; then
      log "package already installed on peer0.$org"
    else
      log "installing the package on peer0.$org"
      peer_cli "$org" lifecycle chaincode install "$pkg" >/dev/null
    fi
  done

  local current seq
  current="$(committed_sequence || true)"
  if [[ -n "$current" && "$upgrade" == false ]]; then
    log "chaincode $CC_NAME sequence $current is already committed (use deploy --upgrade for a new definition)"
    seq="$current"
  else
    seq=$((${current:-0} + 1))
    local common=(-C "$CHANNEL" -n "$CC_NAME" --version "$CC_VERSION" --sequence "$seq"
      --signature-policy "$ENDORSEMENT_POLICY" --collections-config "$COLLECTIONS_CONFIG")
    for org in "${ORGS[@]}"; do
      log "approving $CC_NAME sequence $seq for ${ORG_MSP[$org]}"
      # shellcheck disable=SC2046
      peer_cli "$org" lifecycle chaincode approveformyorg $(orderer_args) "${common[@]}" \
        --package-id "$pkgid" --waitForEvent >/dev/null
    done
    log "commit readiness:"
    peer_cli merchant lifecycle chaincode checkcommitreadiness "${common[@]}" -O json >&2
    local peers=()
    for org in "${ORGS[@]}"; do
      peers+=(--peerAddresses "$(host "$(peer_host "$org")"):${ORG_PEER_PORT[$org]}" --tlsRootCertFiles "$(peer_tls_ca "$org")")
    done
    log "committing $CC_NAME sequence $seq"
    # shellcheck disable=SC2046
    peer_cli merchant lifecycle chaincode commit $(orderer_args) "${common[@]}" "${peers[@]}" --waitForEvent >/dev/null
  fi
  for org in "${ORGS[@]}"; do
    wait_for "$CC_NAME sequence $seq committed on peer0.$org" committed_on "$org" "$seq"
  done

  local peer_host_flag=127.0.0.1 listen="$GATEWAY_LISTEN" data_dir="$FABRIC_HOME/gateway-data"
  if [[ "$TARGET" == docker ]]; then
    peer_host_flag=""
    listen="${XBORDER_GATEWAY_LISTEN:-0.0.0.0:8080}"
    data_dir="${XBORDER_GATEWAY_DATA_DIR:-/var/lib/xborder}"
  fi
  local ca_flag=()
  [[ "$CRYPTO" == ca ]] && ca_flag=(--fabric-ca)
  tool gateway-config --home "$FABRIC_HOME" --peer-host "$peer_host_flag" --listen "$listen" --data-dir "$data_dir" \
    --tls "$GATEWAY_TLS" --tls-hosts "$GATEWAY_TLS_HOSTS" "${ca_flag[@]}" >&2
  log "deployed: run the REST gateway with: xborder gateway --config $FABRIC_HOME/gateway.yaml (API keys in $FABRIC_HOME/credentials.json)"
  if [[ "$CRYPTO" == ca ]]; then
    log "managed API keys may have Fabric CA identities of their own: load the registrars' secrets first: set -a; . $FABRIC_HOME/gateway.env; set +a"
  fi
  if [[ "$GATEWAY_TLS" != none ]]; then
    log "the gateway serves TLS ($GATEWAY_TLS): clients trust $FABRIC_HOME/gateway-tls/ca.crt$([[ "$GATEWAY_TLS" == mtls ]] && echo " and present gateway-tls/client.crt with client.key")"
  fi
}

# ---------------------------------------------------------------------------------------------
# status and down

cmd_status() {
  [[ -f "$FABRIC_HOME/$MARKER" ]] || { echo "no network in $FABRIC_HOME"; return 0; }
  local f name pid org
  echo "network in $FABRIC_HOME ($(tr '\n' ' ' <"$FABRIC_HOME/$MARKER"))"
  for f in "$RUN_DIR"/*.pid; do
    [[ -e "$f" ]] || continue
    name="$(basename "$f" .pid)"
    pid="$(pid_of "$name")"
    if running "$name"; then
      echo "  $name: running (PID $pid)"
    else
      echo "  $name: not running (PID $pid)"
    fi
  done
  for org in "${ORGS[@]}"; do
    printf '  peer0.%s: ' "$org"
    peer_cli "$org" channel getinfo -c "$CHANNEL" 2>/dev/null | sed -n 's/^Blockchain info: //p' || echo "unreachable"
  done
  printf '  chaincode: '
  peer_cli merchant lifecycle chaincode querycommitted -C "$CHANNEL" -n "$CC_NAME" 2>/dev/null | tail -n +2 || echo "not committed"
}

cmd_down() {
  if [[ ! -d "$FABRIC_HOME" ]]; then
    log "nothing to do: $FABRIC_HOME does not exist"
    return 0
  fi
  if [[ ! -f "$FABRIC_HOME/$MARKER" ]] && [[ -n "$(ls -A "$FABRIC_HOME")" ]]; then
    die "$FABRIC_HOME was not created by network.sh ($MARKER is missing); not removing it"
  fi
  stop_processes chaincode "${ORGS[@]/#/peer0.}"
  stop_processes "${ORDERER_NAMES[@]}"
  stop_processes ca.orderer "${ORGS[@]/#/ca.}"
  rm -rf "$FABRIC_HOME"
  log "network stopped and $FABRIC_HOME removed"
}

cmd_topology() {
  local org name
  for org in "${ORGS[@]}"; do
    echo "org $org ${ORG_MSP[$org]} ${ORG_PEER_PORT[$org]} ${ORG_CC_PORT[$org]} ${ORG_OPS_PORT[$org]}"
  done
  for name in "${ORDERER_NAMES[@]}"; do
    echo "orderer $name ${ORDERER_PORT[$name]} ${ORDERER_ADMIN_PORT[$name]} ${ORDERER_OPS_PORT[$name]}"
  done
  echo "chaincode $CC_NAME $CC_LABEL $CC_PORT"
  echo "channel $CHANNEL"
  echo "policy $ENDORSEMENT_POLICY"
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    up) setup_paths; cmd_up "$@" ;;
    deploy) setup_paths; cmd_deploy "$@" ;;
    status) setup_paths; cmd_status "$@" ;;
    down) setup_paths; cmd_down "$@" ;;
    generate) setup_paths; cmd_generate "$@" ;;
    join) setup_paths; cmd_join "$@" ;;
    topology) cmd_topology ;;
    -h | --help | help) usage 0 ;;
    *) usage 2 ;;
  esac
}

main "$@"
