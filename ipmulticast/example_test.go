package ipmulticast_test

import (
	"errors"
	"fmt"

	"github.com/rtmfpd/rtmfpd/ipmulticast"
)

func ExampleParsePublishAddress() {
	for _, in := range [][2]string{
		{"224.0.0.254:30000", ""},
		{"ff03::ffff", "30000"},
		{"", ""},
		{"224.0.0.254:30000", "30001"},
	} {
		g, err := ipmulticast.ParsePublishAddress(in[0], in[1])
		switch {
		case errors.Is(err, ipmulticast.ErrConflictingPort):
			fmt.Println("conflict:", err)
		case err != nil:
			fmt.Println("error:", err)
		case !g.IsValid():
			fmt.Println("cleared")
		default:
			fmt.Println(g)
		}
	}
	// Output:
	// 224.0.0.254:30000
	// [ff03::ffff]:30000
	// cleared
	// conflict: ipmulticast: conflicting ports: "30000" in the address, "30001" given separately
}
