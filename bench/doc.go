// Package bench is xborder's Caliper-style benchmark engine: it runs rounds of a workload
// (lifecycle, create, read, list, hot-merchant) against the REST gateway or directly through
// the Fabric Gateway SDK, at a fixed rate or at the maximum rate, for a duration or a count of
// operations, with N concurrent workers, and reports per round the operations that succeeded,
// those that failed (by reason), the send rate, the throughput and exact latency percentiles
// computed from every recorded sample. Results render as Markdown, JSON and an SVG
// latency-over-time chart.
//
// A Driver performs one xborder operation (RESTDriver over HTTP, SDKDriver with the Gateway
// SDK); a Workload decides which operations make up one measured operation of a round; Run
// executes a Round; a Seeder fills a ledger with orders for the scaling rounds; StartEmbedded
// starts the whole dev system (devnet, chaincode, REST gateway) in a temporary directory so
// one process can measure REST and SDK side by side on the same network.
package bench
