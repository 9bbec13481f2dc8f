package fabric_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"

	"github.com/xborder/xborder/network/fabric"
)

// composeFile is the part of docker-compose.yaml the checks read.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                    `yaml:"image"`
	Build       *composeBuild             `yaml:"build"`
	Environment map[string]string         `yaml:"environment"`
	Ports       []string                  `yaml:"ports"`
	Expose      []string                  `yaml:"expose"`
	Volumes     []composeVolume           `yaml:"volumes"`
	Profiles    []string                  `yaml:"profiles"`
	DependsOn   map[string]composeDepends `yaml:"depends_on"`
	Command     []string                  `yaml:"command"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type composeDepends struct {
	Condition string `yaml:"condition"`
}

// composeVolume accepts both the short ("name:/path") and the long syntax.
type composeVolume struct {
	Type     string `yaml:"type"`
	Source   string `yaml:"source"`
	Target   string `yaml:"target"`
	ReadOnly bool   `yaml:"read_only"`
}

func (v *composeVolume) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		parts := strings.Split(n.Value, ":")
		v.Type, v.Source = "volume", parts[0]
		if len(parts) > 1 {
			v.Target = parts[1]
		}
		v.ReadOnly = len(parts) > 2 && parts[2] == "ro"
		return nil
	}
	type plain composeVolume
	return n.Decode((*plain)(v))
}

var interpolation = regexp.MustCompile(`\$\{([A-Z_]+):-([^}]*)\}`)

// resolve replaces ${VAR:-default} by its default, as docker compose does with VAR unset.
func resolve(s string) string { return interpolation.ReplaceAllString(s, "$2") }

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("../../docker-compose.yaml")
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(b, &c))
	for name, s := range c.Services {
		s.Image = resolve(s.Image)
		for k, v := range s.Environment {
			s.Environment[k] = resolve(v)
		}
		for i := range s.Volumes {
			s.Volumes[i].Source = resolve(s.Volumes[i].Source)
		}
		c.Services[name] = s
	}
	return c
}

func service(t *testing.T, c composeFile, name string) composeService {
	t.Helper()
	s, ok := c.Services[name]
	require.True(t, ok, "docker-compose.yaml has no service %q", name)
	return s
}

// requireFabric3Image checks that image is an official Hyperledger Fabric 3.x image.
func requireFabric3Image(t *testing.T, image, repo string) {
	t.Helper()
	name, tag, ok := strings.Cut(image, ":")
	require.True(t, ok, "image %q has no tag", image)
	require.Equal(t, repo, name)
	require.True(t, tag == "3" || strings.HasPrefix(tag, "3."), "image %s is not Fabric 3.x", image)
}

// requireDataMount checks that the service mounts the generated network home at /data.
func requireDataMount(t *testing.T, s composeService, readOnly bool) {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Target == "/data" {
			require.Equal(t, "bind", v.Type)
			require.Equal(t, "./fabric-data/compose", v.Source)
			require.Equal(t, readOnly, v.ReadOnly, "read-only mount of /data")
			return
		}
	}
	require.Fail(t, "no /data mount")
}

func TestComposePeersMatchNetwork(t *testing.T) {
	c := loadCompose(t)
	require.Equal(t, "xborder", c.Name)
	ccAddress := fabric.HostPort(fabric.ChaincodeServiceHost, fabric.ChaincodeServerPort)
	for _, org := range fabric.Orgs() {
		t.Run(org.MSPID, func(t *testing.T) {
			s := service(t, c, org.PeerHost())
			requireFabric3Image(t, s.Image, "hyperledger/fabric-peer")
			requireDataMount(t, s, true)
			require.Equal(t, "service_completed_successfully", s.DependsOn["setup"].Condition)
			dir := "/data/" + org.PeerDir()
			address := fabric.HostPort(org.PeerHost(), org.PeerPort)
			want := map[string]string{
				"CORE_PEER_ID":                                   org.PeerHost(),
				"CORE_PEER_LOCALMSPID":                           org.MSPID,
				"CORE_PEER_MSPCONFIGPATH":                        dir + "/msp",
				"CORE_PEER_ADDRESS":                              address,
				"CORE_PEER_LISTENADDRESS":                        fabric.HostPort("0.0.0.0", org.PeerPort),
				"CORE_PEER_CHAINCODEADDRESS":                     fabric.HostPort(org.PeerHost(), org.ChaincodePort),
				"CORE_PEER_CHAINCODELISTENADDRESS":               fabric.HostPort("0.0.0.0", org.ChaincodePort),
				"CORE_PEER_GOSSIP_BOOTSTRAP":                     address,
				"CORE_PEER_GOSSIP_EXTERNALENDPOINT":              address,
				"CORE_PEER_TLS_ENABLED":                          "true",
				"CORE_PEER_TLS_CERT_FILE":                        dir + "/tls/server.crt",
				"CORE_PEER_TLS_KEY_FILE":                         dir + "/tls/server.key",
				"CORE_PEER_TLS_ROOTCERT_FILE":                    dir + "/tls/ca.crt",
				"CORE_OPERATIONS_LISTENADDRESS":                  fabric.HostPort("0.0.0.0", org.OperationsPort),
				"CORE_VM_ENDPOINT":                               "",
				"CORE_LEDGER_STATE_STATEDATABASE":                "goleveldb",
				"CORE_LEDGER_STATE_COUCHDBCONFIG_COUCHDBADDRESS": fabric.HostPort("couchdb."+org.Key(), 5984),
				"CORE_LEDGER_HISTORY_ENABLEHISTORYDATABASE":      "true",
				"CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG":          `{"address":"` + ccAddress + `"}`,
			}
			for k, v := range want {
				got, ok := s.Environment[k]
				require.True(t, ok, "%s is not set", k)
				require.Equal(t, v, got, k)
			}
			builders := s.Environment["CORE_CHAINCODE_EXTERNALBUILDERS"]
			require.Contains(t, builders, "path: /opt/hyperledger/ccaas_builder")
			require.Contains(t, builders, "propagateEnvironment: [CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG]")
			require.Contains(t, s.Ports, "127.0.0.1:"+strconv.Itoa(org.PeerPort)+":"+strconv.Itoa(org.PeerPort))
			require.Contains(t, s.Ports, "127.0.0.1:"+strconv.Itoa(org.OperationsPort)+":"+strconv.Itoa(org.OperationsPort))

			couch := service(t, c, "couchdb."+org.Key())
			require.Equal(t, []string{"couchdb"}, couch.Profiles)
			require.Contains(t, couch.Ports, "127.0.0.1:"+strconv.Itoa(org.CouchDBPort)+":5984")
			require.Equal(t, s.Environment["CORE_LEDGER_STATE_COUCHDBCONFIG_PASSWORD"], couch.Environment["COUCHDB_PASSWORD"])
			require.Equal(t, s.Environment["CORE_LEDGER_STATE_COUCHDBCONFIG_USERNAME"], couch.Environment["COUCHDB_USER"])
			require.Equal(t, "service_started", service(t, c, "channel").DependsOn[org.PeerHost()].Condition)
		})
	}
}

func TestComposeOrdererMatchesNetwork(t *testing.T) {
	c := loadCompose(t)
	orderers, err := fabric.Orderers("etcdraft")
	require.NoError(t, err)
	for _, o := range orderers {
		t.Run(o.Name, func(t *testing.T) {
			s := service(t, c, o.Host())
			requireFabric3Image(t, s.Image, "hyperledger/fabric-orderer")
			requireDataMount(t, s, true)
			dir := "/data/" + o.Dir()
			want := map[string]string{
				"ORDERER_GENERAL_LISTENADDRESS":             "0.0.0.0",
				"ORDERER_GENERAL_LISTENPORT":                strconv.Itoa(o.Port),
				"ORDERER_GENERAL_LOCALMSPID":                fabric.OrdererMSPID,
				"ORDERER_GENERAL_LOCALMSPDIR":               dir + "/msp",
				"ORDERER_GENERAL_BOOTSTRAPMETHOD":           "none",
				"ORDERER_GENERAL_TLS_ENABLED":               "true",
				"ORDERER_GENERAL_TLS_PRIVATEKEY":            dir + "/tls/server.key",
				"ORDERER_GENERAL_TLS_CERTIFICATE":           dir + "/tls/server.crt",
				"ORDERER_GENERAL_TLS_ROOTCAS":               "[" + dir + "/tls/ca.crt]",
				"ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE": dir + "/tls/server.crt",
				"ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY":  dir + "/tls/server.key",
				"ORDERER_CHANNELPARTICIPATION_ENABLED":      "true",
				"ORDERER_ADMIN_LISTENADDRESS":               fabric.HostPort("0.0.0.0", o.AdminPort),
				"ORDERER_ADMIN_TLS_ENABLED":                 "true",
				"ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED":      "true",
				"ORDERER_ADMIN_TLS_CLIENTROOTCAS":           "[" + dir + "/tls/ca.crt]",
				"ORDERER_OPERATIONS_LISTENADDRESS":          fabric.HostPort("0.0.0.0", o.OperationsPort),
			}
			for k, v := range want {
				got, ok := s.Environment[k]
				require.True(t, ok, "%s is not set", k)
				require.Equal(t, v, got, k)
			}
			for _, p := range []int{o.Port, o.AdminPort, o.OperationsPort} {
				require.Contains(t, s.Ports, "127.0.0.1:"+strconv.Itoa(p)+":"+strconv.Itoa(p))
			}
		})
	}
}

func TestComposeChaincodeAndGateway(t *testing.T) {
	c := loadCompose(t)
	_, pkgID, err := fabric.DefaultPackage()
	require.NoError(t, err)
	cc := service(t, c, fabric.ChaincodeServiceHost)

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"chaincode runs the deployed package ID", func(t *testing.T) {
			require.Equal(t, pkgID, cc.Environment["CORE_CHAINCODE_ID_NAME"],
				"docker-compose.yaml must name the package ID network.sh deploy installs")
			require.Equal(t, fabric.HostPort("0.0.0.0", fabric.ChaincodeServerPort), cc.Environment["CHAINCODE_SERVER_ADDRESS"])
			require.Equal(t, "true", cc.Environment["CHAINCODE_TLS_DISABLED"])
			require.Contains(t, cc.Expose, strconv.Itoa(fabric.ChaincodeServerPort))
			require.Equal(t, "Dockerfile.chaincode", cc.Build.Dockerfile)
		}},
		{"connection.json leads every peer to the chaincode service", func(t *testing.T) {
			conn := fabric.DefaultConnection()
			for _, org := range fabric.Orgs() {
				var builderCfg map[string]any
				require.NoError(t, json.Unmarshal([]byte(service(t, c, org.PeerHost()).Environment["CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"]), &builderCfg))
				// Fabric's ccaas builder renders connection.json's address with text/template
				// and missingkey=error.
				tmpl, err := template.New("address").Option("missingkey=error").Parse(conn.Address)
				require.NoError(t, err)
				var addr bytes.Buffer
				require.NoError(t, tmpl.Execute(&addr, builderCfg))
				require.Equal(t, fabric.HostPort(fabric.ChaincodeServiceHost, fabric.ChaincodeServerPort), addr.String(), org.MSPID)
			}
		}},
		{"setup and channel run network.sh in the tools image", func(t *testing.T) {
			setup, channel := service(t, c, "setup"), service(t, c, "channel")
			require.Equal(t, "network/fabric/Dockerfile.tools", setup.Build.Dockerfile)
			require.Equal(t, setup.Image, channel.Image)
			for _, s := range []composeService{setup, channel} {
				require.Equal(t, "docker", s.Environment["XBORDER_FABRIC_TARGET"])
				require.Equal(t, "/data", s.Environment["XBORDER_FABRIC_HOME"])
				requireDataMount(t, s, false)
			}
			require.Contains(t, strings.Join(setup.Command, " "), "network/fabric/network.sh generate")
			require.Contains(t, strings.Join(channel.Command, " "), "network/fabric/network.sh join && network/fabric/network.sh deploy")
			require.Equal(t, "service_completed_successfully", channel.DependsOn["setup"].Condition)
			require.Equal(t, "service_started", channel.DependsOn["orderer.xborder.example"].Condition)
		}},
		{"gateway reads the generated gateway.yaml", func(t *testing.T) {
			gw := service(t, c, "gateway")
			require.Equal(t, "Dockerfile", gw.Build.Dockerfile)
			require.Equal(t, []string{"gateway", "--config", "/data/" + fabric.GatewayConfigFile}, gw.Command)
			require.Equal(t, "service_completed_successfully", gw.DependsOn["channel"].Condition)
			requireDataMount(t, gw, true)
			require.Contains(t, gw.Ports, "127.0.0.1:8080:8080")
			require.Equal(t, "0.0.0.0:8080", service(t, c, "channel").Environment["XBORDER_GATEWAY_LISTEN"])
		}},
		{"named volumes are declared", func(t *testing.T) {
			for name, s := range c.Services {
				for _, v := range s.Volumes {
					if v.Type == "volume" {
						require.Contains(t, c.Volumes, v.Source, "service %s", name)
					}
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.check)
	}
}

func TestDockerfiles(t *testing.T) {
	tests := []struct {
		file, binary, pkg string
		fabricBase        bool
	}{
		{"../../Dockerfile", "xborder", "./cmd/xborder", false},
		{"../../Dockerfile.chaincode", "xborder-chaincode", "./cmd/xborder-chaincode", false},
		{"Dockerfile.tools", "xborder-fabric", "./network/fabric/cmd/xborder-fabric", true},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(tc.file)
			require.NoError(t, err)
			s := string(b)
			require.GreaterOrEqual(t, strings.Count(s, "\nFROM "), 2, "multi-stage build")
			require.Contains(t, s, "CGO_ENABLED=0 go build", "static binary")
			require.Contains(t, s, "-o /out/"+tc.binary+" "+tc.pkg)
			if tc.fabricBase {
				require.Contains(t, s, "FROM hyperledger/fabric-tools:")
				// The deployment uses the chaincode's own collections config, never a copy.
				require.Contains(t, s, "COPY chaincode/collections_config.json /opt/xborder/chaincode/collections_config.json")
				require.Contains(t, s, "COPY network/fabric/network.sh network/fabric/configtx.yaml network/fabric/crypto-config.yaml")
			} else {
				require.Contains(t, s, "FROM gcr.io/distroless/static")
				require.Contains(t, s, "USER 65532:65532", "non-root")
			}
		})
	}
	b, err := os.ReadFile("../../.dockerignore")
	require.NoError(t, err)
	for _, p := range []string{".git", "/fabric-data/", "/xborder-data/"} {
		require.Contains(t, strings.Split(string(b), "\n"), p)
	}
}

// TestDockerComposeConfig runs `docker compose config` where Docker Compose and an engine are
// available.
func TestDockerComposeConfig(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "compose", "version").Run(); err != nil {
		t.Skip("docker compose is not installed")
	}
	if err := exec.CommandContext(ctx, "docker", "info").Run(); err != nil {
		t.Skip("no Docker engine is reachable")
	}
	for _, profile := range []string{"", "couchdb"} {
		t.Run("profile="+profile, func(t *testing.T) {
			args := []string{"compose", "-f", "../../docker-compose.yaml"}
			if profile != "" {
				args = append(args, "--profile", profile)
			}
			out, err := exec.CommandContext(ctx, "docker", append(args, "config", "--quiet")...).CombinedOutput()
			require.NoError(t, err, "docker compose config: %s", out)
		})
	}
}

// ---------------------------------------------------------------------------------------------
// network/fabric's own files against the topology

type configtxFile struct {
	Organizations []configtxOrg `yaml:"Organizations"`
	Capabilities  struct {
		Channel     map[string]bool `yaml:"Channel"`
		Orderer     map[string]bool `yaml:"Orderer"`
		Application map[string]bool `yaml:"Application"`
	} `yaml:"Capabilities"`
	Profiles map[string]struct {
		Orderer struct {
			OrdererType string `yaml:"OrdererType"`
			EtcdRaft    struct {
				Consenters []struct {
					Host          string `yaml:"Host"`
					Port          int    `yaml:"Port"`
					ClientTLSCert string `yaml:"ClientTLSCert"`
					ServerTLSCert string `yaml:"ServerTLSCert"`
				} `yaml:"Consenters"`
			} `yaml:"EtcdRaft"`
			ConsenterMapping []struct {
				ID            int    `yaml:"ID"`
				Host          string `yaml:"Host"`
				Port          int    `yaml:"Port"`
				MSPID         string `yaml:"MSPID"`
				Identity      string `yaml:"Identity"`
				ClientTLSCert string `yaml:"ClientTLSCert"`
				ServerTLSCert string `yaml:"ServerTLSCert"`
			} `yaml:"ConsenterMapping"`
			Organizations []configtxOrg `yaml:"Organizations"`
		} `yaml:"Orderer"`
		Application struct {
			Organizations []configtxOrg `yaml:"Organizations"`
		} `yaml:"Application"`
	} `yaml:"Profiles"`
}

type configtxOrg struct {
	Name     string `yaml:"Name"`
	ID       string `yaml:"ID"`
	MSPDir   string `yaml:"MSPDir"`
	Policies map[string]struct {
		Type string `yaml:"Type"`
		Rule string `yaml:"Rule"`
	} `yaml:"Policies"`
	OrdererEndpoints []string `yaml:"OrdererEndpoints"`
	AnchorPeers      []struct {
		Host string `yaml:"Host"`
		Port int    `yaml:"Port"`
	} `yaml:"AnchorPeers"`
}

func TestConfigtxMatchesTopology(t *testing.T) {
	b, err := os.ReadFile("configtx.yaml")
	require.NoError(t, err)
	var cfg configtxFile
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	require.True(t, cfg.Capabilities.Channel["V3_0"], "channel capability V3_0")
	require.True(t, cfg.Capabilities.Application["V2_5"], "application capability V2_5")

	for _, profile := range []string{"XborderRaft", "XborderBFT"} {
		t.Run(profile, func(t *testing.T) {
			p, ok := cfg.Profiles[profile]
			require.True(t, ok)
			apps := p.Application.Organizations
			require.Len(t, apps, len(fabric.Orgs()))
			for i, org := range fabric.Orgs() {
				a := apps[i]
				require.Equal(t, org.MSPID, a.ID)
				require.Equal(t, org.MSPDir(), a.MSPDir)
				require.Len(t, a.AnchorPeers, 1)
				require.Equal(t, org.PeerHost(), a.AnchorPeers[0].Host)
				require.Equal(t, org.PeerPort, a.AnchorPeers[0].Port)
				require.Equal(t, "OR('"+org.MSPID+".peer')", a.Policies["Endorsement"].Rule)
				require.Equal(t, "OR('"+org.MSPID+".admin')", a.Policies["Admins"].Rule)
				require.Contains(t, a.Policies["Writers"].Rule, "'"+org.MSPID+".client'")
			}
			consensus := map[string]string{"XborderRaft": "etcdraft", "XborderBFT": "BFT"}[profile]
			require.Equal(t, consensus, p.Orderer.OrdererType)
			orderers, err := fabric.Orderers(consensus)
			require.NoError(t, err)
			require.Len(t, p.Orderer.Organizations, 1)
			oorg := p.Orderer.Organizations[0]
			require.Equal(t, fabric.OrdererMSPID, oorg.ID)
			var endpoints []string
			for i, o := range orderers {
				endpoints = append(endpoints, fabric.HostPort(o.Host(), o.Port))
				tlsCert := o.Dir() + "/tls/server.crt"
				if consensus == "etcdraft" {
					c := p.Orderer.EtcdRaft.Consenters[i]
					require.Equal(t, []any{o.Host(), o.Port, tlsCert, tlsCert}, []any{c.Host, c.Port, c.ClientTLSCert, c.ServerTLSCert})
				} else {
					c := p.Orderer.ConsenterMapping[i]
					require.Equal(t, []any{i + 1, o.Host(), o.Port, fabric.OrdererMSPID, tlsCert, tlsCert},
						[]any{c.ID, c.Host, c.Port, c.MSPID, c.ClientTLSCert, c.ServerTLSCert})
					require.Equal(t, o.Dir()+"/msp/signcerts/"+o.Host()+"-cert.pem", c.Identity)
				}
			}
			require.Equal(t, endpoints, oorg.OrdererEndpoints)
			if consensus == "etcdraft" {
				require.Len(t, p.Orderer.EtcdRaft.Consenters, len(orderers))
			} else {
				require.Len(t, p.Orderer.ConsenterMapping, len(orderers))
			}
		})
	}
}

func TestCryptoConfigMatchesTopology(t *testing.T) {
	b, err := os.ReadFile("crypto-config.yaml")
	require.NoError(t, err)
	var cc struct {
		OrdererOrgs []struct {
			Name          string `yaml:"Name"`
			Domain        string `yaml:"Domain"`
			EnableNodeOUs bool   `yaml:"EnableNodeOUs"`
			Specs         []struct {
				Hostname string   `yaml:"Hostname"`
				SANS     []string `yaml:"SANS"`
			} `yaml:"Specs"`
		} `yaml:"OrdererOrgs"`
		PeerOrgs []struct {
			Name          string `yaml:"Name"`
			Domain        string `yaml:"Domain"`
			EnableNodeOUs bool   `yaml:"EnableNodeOUs"`
			Template      struct {
				Count int      `yaml:"Count"`
				SANS  []string `yaml:"SANS"`
			} `yaml:"Template"`
			Users struct {
				Count int `yaml:"Count"`
			} `yaml:"Users"`
		} `yaml:"PeerOrgs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &cc))
	require.Len(t, cc.OrdererOrgs, 1)
	require.Equal(t, fabric.Domain, cc.OrdererOrgs[0].Domain)
	require.True(t, cc.OrdererOrgs[0].EnableNodeOUs)
	all, err := fabric.Orderers("BFT")
	require.NoError(t, err)
	require.Len(t, cc.OrdererOrgs[0].Specs, len(all))
	for i, o := range all {
		require.Equal(t, o.Name, cc.OrdererOrgs[0].Specs[i].Hostname)
		require.Contains(t, cc.OrdererOrgs[0].Specs[i].SANS, "127.0.0.1")
	}
	require.Len(t, cc.PeerOrgs, len(fabric.Orgs()))
	for i, org := range fabric.Orgs() {
		t.Run(org.MSPID, func(t *testing.T) {
			p := cc.PeerOrgs[i]
			require.Equal(t, org.Name, p.Name)
			require.Equal(t, org.OrgDomain(), p.Domain)
			require.True(t, p.EnableNodeOUs, "NodeOUs are needed for the '.peer' endorsement principals")
			require.Equal(t, 1, p.Template.Count)
			require.Contains(t, p.Template.SANS, "127.0.0.1")
			require.GreaterOrEqual(t, p.Users.Count, 1, "the gateway signs as %s", fabric.GatewayUser)
		})
	}
}

// TestNetworkScriptTopology compares network.sh's port table with the Go topology.
func TestNetworkScriptTopology(t *testing.T) {
	out, err := exec.Command("bash", "network.sh", "topology").Output()
	require.NoError(t, err)
	var want []string
	for _, o := range fabric.Orgs() {
		want = append(want, strings.Join([]string{"org", o.Key(), o.MSPID, strconv.Itoa(o.PeerPort), strconv.Itoa(o.ChaincodePort), strconv.Itoa(o.OperationsPort)}, " "))
	}
	all, err := fabric.Orderers("BFT")
	require.NoError(t, err)
	for _, o := range all {
		want = append(want, strings.Join([]string{"orderer", o.Name, strconv.Itoa(o.Port), strconv.Itoa(o.AdminPort), strconv.Itoa(o.OperationsPort)}, " "))
	}
	want = append(want,
		"chaincode "+fabric.ChaincodeName+" "+fabric.ChaincodeLabel+" "+strconv.Itoa(fabric.ChaincodeServerPort),
		"channel "+fabric.Channel,
		"policy "+fabric.EndorsementPolicy)
	require.Equal(t, want, strings.Split(strings.TrimSpace(string(out)), "\n"))
}

// TestCollectionsEndorsable checks the argument of docs/endorsement-policy.md: every private
// data collection has at least two member organisations the endorsement policy names (the
// read-only regulator may be a member but never endorses), so OutOf(2, ...) can always be met by
// members of the collection alone and transient data never goes to a non-member's peer. Every
// member is an organisation of the channel: a real channel refuses a collection naming another.
func TestCollectionsEndorsable(t *testing.T) {
	b, err := os.ReadFile("../../chaincode/collections_config.json")
	require.NoError(t, err)
	var colls []struct {
		Name              string `json:"name"`
		Policy            string `json:"policy"`
		RequiredPeerCount int    `json:"requiredPeerCount"`
		MaxPeerCount      int    `json:"maxPeerCount"`
		MemberOnlyRead    bool   `json:"memberOnlyRead"`
		MemberOnlyWrite   bool   `json:"memberOnlyWrite"`
	}
	require.NoError(t, json.Unmarshal(b, &colls))
	require.NotEmpty(t, colls)
	required := regexp.MustCompile(`^OutOf\((\d+),`).FindStringSubmatch(fabric.EndorsementPolicy)
	require.Len(t, required, 2)
	n, err := strconv.Atoi(required[1])
	require.NoError(t, err)
	member := regexp.MustCompile(`'([A-Za-z]+MSP)\.member'`)
	for _, c := range colls {
		t.Run(c.Name, func(t *testing.T) {
			var members, endorsers []string
			for _, m := range member.FindAllStringSubmatch(c.Policy, -1) {
				org, err := fabric.OrgByMSPID(m[1])
				require.NoError(t, err)
				members = append(members, m[1])
				if strings.Contains(fabric.EndorsementPolicy, "'"+m[1]+".peer'") {
					require.False(t, org.ReadOnly, "%s is read-only but named in the endorsement policy", m[1])
					endorsers = append(endorsers, m[1])
				}
			}
			require.GreaterOrEqual(t, len(endorsers), n, "collection %s has fewer members the endorsement policy names than it needs", c.Name)
			require.True(t, slices.Contains(members, "CustomsMSP"), "the regulator is a member of every collection")
			require.True(t, c.MemberOnlyRead && c.MemberOnlyWrite)
			// Peers of the members only: at most the other members can receive the data.
			require.LessOrEqual(t, c.MaxPeerCount, len(fabric.Orgs())-1)
		})
	}
}

// TestReadOnlyRegulator checks that the regulator is a channel organisation with a peer but
// has no say over the chaincode: neither its endorsement policy nor LifecycleEndorsement names
// it, while they name every member.
func TestReadOnlyRegulator(t *testing.T) {
	reg, err := fabric.OrgByMSPID("RegulatorMSP")
	require.NoError(t, err)
	require.True(t, reg.ReadOnly)
	require.Len(t, fabric.Members(), 4)
	b, err := os.ReadFile("configtx.yaml")
	require.NoError(t, err)
	var cfg struct {
		Application struct {
			Policies map[string]struct {
				Type string `yaml:"Type"`
				Rule string `yaml:"Rule"`
			} `yaml:"Policies"`
		} `yaml:"Application"`
	}
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	lifecycle := cfg.Application.Policies["LifecycleEndorsement"]
	require.Equal(t, "Signature", lifecycle.Type)
	require.True(t, strings.HasPrefix(lifecycle.Rule, "OutOf(3, "), lifecycle.Rule)
	for _, policy := range []string{fabric.EndorsementPolicy, lifecycle.Rule} {
		require.NotContains(t, policy, reg.MSPID)
		for _, m := range fabric.Members() {
			require.Contains(t, policy, "'"+m.MSPID+".peer'")
		}
	}
}
