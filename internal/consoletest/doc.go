// Package consoletest drives the web console (gateway/console) in headless Chromium against
// the whole dev system (the devnet, the chaincode and the gateway in one process), as the four
// member organisations would use it. It holds tests only.
//
// The tests need Chromium (Debian's chromium package, or XBORDER_CHROMIUM naming a binary).
// Without it they skip with a message, except when CI or XBORDER_REQUIRE_BROWSER=1 is set, where
// they fail. XBORDER_SCREENSHOTS=DIR keeps their screenshots in DIR.
package consoletest
