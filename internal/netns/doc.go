// Package netns runs tests inside a private Linux network namespace, so that
// tests which send real IP multicast (package ipmulticast, the multicast
// fusion tests) never touch a real network interface.
//
// # How it works
//
// The test binary re-executes itself in a child process created with
// clone(CLONE_NEWNET) — the system call behind `unshare -n` — through
// [syscall.SysProcAttr.Cloneflags]. When the test does not run as root, the
// child is also given a new user namespace (CLONE_NEWUSER) mapping the
// caller's uid to root, so that it may configure its own namespace. The child
// finds the environment variable [EnvChild] set to "1" and the identity of
// the parent's namespace (the target of /proc/self/ns/net) in a second
// variable. Before running anything it:
//
//  1. refuses to run unless its own /proc/self/ns/net differs from the
//     parent's (so a forged environment in the host namespace fails);
//  2. refuses to run unless [net.Interfaces] lists exactly one interface,
//     "lo", flagged as loopback;
//  3. configures the namespace over rtnetlink (no external tools):
//     sets lo UP and MULTICAST (`ip link set lo up multicast on`), adds
//     224.0.0.0/4 dev lo scope link in the main table
//     (`ip route add 224.0.0.0/4 dev lo`), and adds the IPv6 route
//     `ip -6 route add local ff00::/8 dev lo table local`;
//  4. checks again that lo is the only interface and is up and multicast.
//
// The IPv6 route must have type local: the kernel turns any ordinary route
// through the loopback device into a reject route (fib6_nh_init), which makes
// multicast sends fail with ENETUNREACH. With the local route the datagram
// leaves through lo and is delivered by the UDP layer to every socket that
// joined the group.
//
// # Use
//
// A single test: [Run] re-executes only that test (-test.run=^Name$) in a
// fresh namespace and reports the child's output. A whole package (tests and
// benchmarks): call [Main] from TestMain; every `go test` invocation of the
// package, e.g. `go test -run=^$ -bench=. ./ipmulticast/`, then runs inside
// one fresh namespace.
//
// If a namespace cannot be created (no privilege, a kernel without network
// namespaces, a non-Linux system) the test FAILS with a message saying so;
// it never skips and never falls back to the host network.
package netns
