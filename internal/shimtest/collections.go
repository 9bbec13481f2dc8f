package shimtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
)

// collectionConfig is one entry of a Fabric collections configuration file
// (the JSON given to `peer lifecycle chaincode ... --collections-config`).
type collectionConfig struct {
	Name            string `json:"name"`
	Policy          string `json:"policy"`
	MemberOnlyRead  bool   `json:"memberOnlyRead"`
	MemberOnlyWrite bool   `json:"memberOnlyWrite"`
}

// principalPattern matches the principals of a signature policy expression,
// e.g. 'MerchantMSP.member' in "OR('MerchantMSP.member', 'BankMSP.peer')".
var principalPattern = regexp.MustCompile(`'([^'.]+)\.(member|admin|client|peer|orderer)'`)

// DefineCollectionsFromJSON defines the collections of a Fabric collections
// configuration file. As Fabric does, the member organisations of a
// collection are the MSP IDs named by the principals of its policy;
// memberOnlyRead and memberOnlyWrite are honoured, the other fields
// (peer counts, blockToLive, endorsement policy) have no effect in the fake.
func (l *Ledger) DefineCollectionsFromJSON(data []byte) error {
	var configs []collectionConfig
	if err := json.Unmarshal(data, &configs); err != nil {
		return fmt.Errorf("shimtest: parse collections config: %w", err)
	}
	policies := make(map[string]CollectionPolicy, len(configs))
	for i, c := range configs {
		if c.Name == "" {
			return fmt.Errorf("shimtest: collections config entry %d: name must not be empty", i)
		}
		if _, dup := policies[c.Name]; dup {
			return fmt.Errorf("shimtest: collections config: duplicate collection %q", c.Name)
		}
		seen := map[string]bool{}
		var members []string
		for _, m := range principalPattern.FindAllStringSubmatch(c.Policy, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				members = append(members, m[1])
			}
		}
		if len(members) == 0 {
			return fmt.Errorf("shimtest: collections config: collection %q: policy %q names no organisation", c.Name, c.Policy)
		}
		sort.Strings(members)
		policies[c.Name] = CollectionPolicy{Members: members, MemberOnlyRead: c.MemberOnlyRead, MemberOnlyWrite: c.MemberOnlyWrite}
	}
	for name, p := range policies {
		l.DefineCollection(name, p)
	}
	return nil
}

// Collections returns the defined collection names, sorted.
func (l *Ledger) Collections() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]string, 0, len(l.collections))
	for name := range l.collections {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
