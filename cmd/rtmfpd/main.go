// Command rtmfpd is an RTMFP (RFC 7016, RFC 7425) server.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "rtmfpd: not built yet")
	os.Exit(1)
}
