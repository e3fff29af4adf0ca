package ipmulticast

import (
	"errors"
	"fmt"
	"net"
)

// ErrNoInterface: no interface could be joined or used for the group.
var ErrNoInterface = errors.New("ipmulticast: no usable multicast interface")

// interfaceByNameOrIndex resolves the interface option of a sender; both
// zero means "let the routing table choose" (nil, nil).
func interfaceByNameOrIndex(name string, index int) (*net.Interface, error) {
	switch {
	case name == "" && index == 0:
		return nil, nil
	case index < 0:
		return nil, fmt.Errorf("%w: interface index %d", ErrNoInterface, index)
	case name == "":
		ifi, err := net.InterfaceByIndex(index)
		if err != nil {
			return nil, fmt.Errorf("%w: interface index %d: %v", ErrNoInterface, index, err)
		}
		return ifi, nil
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("%w: interface %q: %v", ErrNoInterface, name, err)
	}
	if index != 0 && ifi.Index != index {
		return nil, fmt.Errorf("%w: interface %q has index %d, not %d", ErrNoInterface, name, ifi.Index, index)
	}
	return ifi, nil
}

// receiveInterfaces resolves the interfaces a receiver joins on: the named
// ones, or when names is empty every interface that is up and
// multicast-capable (explicit reports which case applies).
func receiveInterfaces(names []string) (ifs []net.Interface, explicit bool, err error) {
	if len(names) > 0 {
		for _, n := range names {
			ifi, err := net.InterfaceByName(n)
			if err != nil {
				return nil, true, fmt.Errorf("%w: interface %q: %v", ErrNoInterface, n, err)
			}
			ifs = append(ifs, *ifi)
		}
		return ifs, true, nil
	}
	all, err := net.Interfaces()
	if err != nil {
		return nil, false, fmt.Errorf("listing interfaces: %w", err)
	}
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
			ifs = append(ifs, ifi)
		}
	}
	if len(ifs) == 0 {
		return nil, false, fmt.Errorf("%w: no interface is up and multicast-capable", ErrNoInterface)
	}
	return ifs, false, nil
}
