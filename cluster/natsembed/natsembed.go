// Package natsembed runs a NATS server inside rtmfpd
// (github.com/nats-io/nats-server/v2), for a small cluster that has no
// NATS of its own: each node runs one, and the servers join each other with
// NATS routes, so that any node may stop without taking the registry down.
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures an embedded NATS server.
type Config struct {
	// Listen is the client address ("127.0.0.1:4222"; port 0 picks one).
	Listen string
	// ClusterListen is the address of the route listener ("" for none: a
	// server of its own).
	ClusterListen string
	// Routes are the other servers' cluster addresses (host:port).
	Routes []string
	// Name names the server (default: the client address); ClusterName
	// the NATS cluster (default "rtmfpd").
	Name, ClusterName string
	// Token, when set, is required from clients and routes.
	Token string
}

// Server is a running embedded NATS server.
type Server struct {
	*server.Server
}

// Start starts the server and waits until it accepts clients.
func Start(cfg Config) (*Server, error) {
	host, port, err := splitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("nats listen %q: %w", cfg.Listen, err)
	}
	opts := &server.Options{Host: host, Port: port, NoLog: true, NoSigs: true, ServerName: cfg.Name,
		MaxPayload: 1 << 20, WriteDeadline: 10 * time.Second}
	if port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	if cfg.Token != "" {
		opts.Authorization = cfg.Token
	}
	if cfg.ClusterListen != "" {
		ch, cp, err := splitHostPort(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("nats cluster listen %q: %w", cfg.ClusterListen, err)
		}
		if cp == 0 {
			cp = server.RANDOM_PORT
		}
		name := cfg.ClusterName
		if name == "" {
			name = "rtmfpd"
		}
		opts.Cluster = server.ClusterOpts{Name: name, Host: ch, Port: cp}
		if cfg.Token != "" {
			opts.Cluster.Username, opts.Cluster.Password = "rtmfpd", cfg.Token
		}
		for _, r := range cfg.Routes {
			u := &url.URL{Scheme: "nats-route", Host: r}
			if cfg.Token != "" {
				u.User = url.UserPassword("rtmfpd", cfg.Token)
			}
			opts.Routes = append(opts.Routes, u)
		}
	} else if len(cfg.Routes) > 0 {
		return nil, errors.New("nats routes need a cluster listen address")
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server on %s did not start", cfg.Listen)
	}
	return &Server{s}, nil
}

// Close stops the server.
func (s *Server) Close() {
	s.Shutdown()
	s.WaitForShutdown()
}

// ClusterAddr returns the address of the route listener ("" without one).
func (s *Server) ClusterAddr() string {
	if a := s.Server.ClusterAddr(); a != nil {
		return a.String()
	}
	return ""
}

func splitHostPort(a string) (string, int, error) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return h, n, nil
}
