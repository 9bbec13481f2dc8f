package chaincode

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Page sizes of ListComplianceAlerts.
const (
	// AlertPageSizeDefault is the page size when the caller asks for 0.
	AlertPageSizeDefault int32 = 20
	// AlertPageSizeMax caps the page size.
	AlertPageSizeMax int32 = 100
)

// ComplianceAlertPage is one page of ListComplianceAlerts, oldest alert first. Bookmark is empty
// on the last page; pass it back to get the next page.
type ComplianceAlertPage struct {
	Items    []ComplianceAlert `json:"items"`
	Bookmark string            `json:"bookmark"`
	Count    int32             `json:"count"`
}

// GetComplianceRules returns the compliance rule set in force (anyone may read it; version 0 with
// empty limits and lists when Customs has not set any). Evaluate only.
func (c *Contract) GetComplianceRules(ctx contractapi.TransactionContextInterface) (*ComplianceRules, error) {
	if _, err := requireOrg(ctx, "GetComplianceRules", Organisations...); err != nil {
		return nil, err
	}
	return loadComplianceRules(ctx)
}

// ListComplianceAlerts returns one page of compliance alerts in time order (Customs and the
// regulator).
// pageSize is a decimal string: "" or "0" means AlertPageSizeDefault, larger sizes are capped at
// AlertPageSizeMax, a negative or non-numeric value is INVALID_ARGUMENT, as is a bookmark that
// is not an alert key. The cost
// is proportional to the page, not to the number of alerts. Evaluate only.
func (c *Contract) ListComplianceAlerts(ctx contractapi.TransactionContextInterface, pageSize, bookmark string) (*ComplianceAlertPage, error) {
	if _, err := requireOrg(ctx, "ListComplianceAlerts", CustomsMSP, RegulatorMSP); err != nil {
		return nil, err
	}
	size, err := ParsePageSize("pageSize", pageSize, AlertPageSizeDefault, AlertPageSizeMax)
	if err != nil {
		return nil, err
	}
	if err := checkBookmark(ctx, bookmark, objComplianceAlert); err != nil {
		return nil, err
	}
	it, meta, err := ctx.GetStub().GetStateByPartialCompositeKeyWithPagination(objComplianceAlert, []string{}, size, bookmark)
	if err != nil {
		return nil, errInternal("query compliance alerts", err)
	}
	defer it.Close()
	page := &ComplianceAlertPage{Items: []ComplianceAlert{}}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, errInternal("iterate compliance alerts", err)
		}
		a, err := decodeAlert(kv.GetValue())
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, a)
	}
	page.Count = int32(len(page.Items))
	// Fabric returns the key after the page as bookmark even when nothing follows; report the
	// end of the list only when the page came back short.
	if meta != nil && page.Count == size {
		page.Bookmark = meta.GetBookmark()
	}
	return page, nil
}
