package devnet_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"

	"github.com/xborder/xborder/network/devnet"
	"github.com/xborder/xborder/network/devnet/internal/testcc"
)

// Example starts a devnet with a chaincode served in-process, connects the Fabric Gateway
// SDK to the merchant organisation's peer, submits a transaction and reads it back.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "devnet-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cc, err := testcc.Start(ctx, "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Stop()

	net, err := devnet.Start(ctx, devnet.Config{
		DataDir: dir,
		Chaincodes: []devnet.ChaincodeDefinition{{
			Name:              testcc.Name,
			EndorsementPolicy: "OR('MerchantMSP.peer','BankMSP.peer')",
			Address:           cc.Addr(),
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer net.Close()

	conn, err := net.ClientConnection("MerchantMSP")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	certPath, keyPath, err := net.ClientIdentity("MerchantMSP")
	if err != nil {
		log.Fatal(err)
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		log.Fatal(err)
	}
	id, err := identity.NewX509Identity("MerchantMSP", cert)
	if err != nil {
		log.Fatal(err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		log.Fatal(err)
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		log.Fatal(err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		log.Fatal(err)
	}
	gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn))
	if err != nil {
		log.Fatal(err)
	}
	defer gw.Close()

	contract := gw.GetNetwork(net.Channel()).GetContract(testcc.Name)
	if _, err := contract.SubmitTransaction("put", "greeting", "hello"); err != nil {
		log.Fatal(err)
	}
	value, err := contract.EvaluateTransaction("get", "greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(value))
	// Output: hello
}
