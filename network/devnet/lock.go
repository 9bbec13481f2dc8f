package devnet

import "os"

// lockFileName is the file, in the data directory, whose lock marks the directory in use.
const lockFileName = "devnet.lock"

// dirLock is a held lock on a data directory.
type dirLock struct {
	f *os.File
}
