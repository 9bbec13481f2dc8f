package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// defaultBlockPage is the number of blocks listed when pageSize is absent.
const defaultBlockPage = 10

// blockPage is the answer of GET /api/v1/blocks.
type blockPage struct {
	// Height is the chain's height when the page was read.
	Height uint64 `json:"height"`
	// Items are block summaries (no transactions), newest first.
	Items []gateway.Block `json:"items"`
	// Bookmark continues the listing below the last block of this page; empty after block 0.
	Bookmark string `json:"bookmark"`
	Count    int    `json:"count"`
}

// listBlocks serves GET /api/v1/blocks: the channel's blocks, newest first, a page at a time.
// The bookmark is the number of the first block not yet listed plus one, so that pages stay
// stable while new blocks are added on top.
func (s *Server) listBlocks(c *gin.Context) {
	ctx := c.Request.Context()
	caller := callerOf(c)
	pageSize := defaultBlockPage
	if v := c.Query("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			abortProblem(c, gateway.FieldError("pageSize", "must be a positive integer, got %q", v))
			return
		}
		pageSize = n
	}
	height, err := s.explorer.ChainHeight(ctx, caller)
	if err != nil {
		abortProblem(c, err)
		return
	}
	top := height
	if v := c.Query("bookmark"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 || n > height {
			abortProblem(c, gateway.FieldError("bookmark", "must be a bookmark returned by a previous page"))
			return
		}
		top = n
	}
	page := blockPage{Height: height, Items: []gateway.Block{}}
	for n := top; n > 0 && len(page.Items) < pageSize; n-- {
		b, err := s.explorer.Block(ctx, caller, n-1)
		if err != nil {
			abortProblem(c, err)
			return
		}
		b.Transactions = nil
		page.Items = append(page.Items, *b)
	}
	if last := len(page.Items); last > 0 && page.Items[last-1].Number > 0 {
		page.Bookmark = strconv.FormatUint(page.Items[last-1].Number, 10)
	}
	page.Count = len(page.Items)
	c.JSON(http.StatusOK, page)
}

// getBlock serves GET /api/v1/blocks/{number}: one block with its transactions.
func (s *Server) getBlock(c *gin.Context) {
	raw := c.Param("number")
	n, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		abortProblem(c, gateway.FieldError("number", "must be a block number, got %q", raw))
		return
	}
	b, err := s.explorer.Block(c.Request.Context(), callerOf(c), n)
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

// noExplorer is the explorer of a gateway whose ledger cannot read blocks.
type noExplorer struct{}

func (noExplorer) ChainHeight(context.Context, gateway.Caller) (uint64, error) {
	return 0, gateway.Errorf(gateway.CodeUnavailable, "this gateway's ledger service cannot read blocks")
}

func (noExplorer) Block(context.Context, gateway.Caller, uint64) (*gateway.Block, error) {
	return nil, gateway.Errorf(gateway.CodeUnavailable, "this gateway's ledger service cannot read blocks")
}
