package server

import (
	"errors"
	"fmt"

	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// GroupPlayRule plays a stream of the group into a server stream, as Adobe
// Media Server's MulticastStreamIngest did: clients whose NAT defeats P2P,
// or that speak RTMP, play it from the server (unicast RTMFP or RTMP), and
// relay rules republish it.
type GroupPlayRule struct {
	// Name is the group stream (required).
	Name string `json:"name"`
	// App, Instance and Stream name the server stream (App required;
	// Instance default "_definst_", Stream default Name).
	App      string `json:"app"`
	Instance string `json:"instance"`
	Stream   string `json:"stream"`
	// Multicast holds local overrides of the multicast properties
	// (absent: the parameters the group stream's publisher announces).
	Multicast *MulticastConfig `json:"multicast"`
}

func (r *GroupPlayRule) validate() error {
	if r.Name == "" || r.App == "" {
		return errors.New("play: name and app are required")
	}
	return nil
}

// target is the server stream the rule writes.
func (r *GroupPlayRule) target() (app, inst, name string) {
	inst, name = r.Instance, r.Stream
	if inst == "" {
		inst = netstream.DefaultInstance
	}
	if name == "" {
		name = r.Name
	}
	return r.App, inst, name
}

func (r *GroupPlayRule) multicast() multicast.Config {
	if r.Multicast == nil {
		return multicast.Config{}
	}
	return r.Multicast.config()
}

// startPlays starts the group's ingests. Their server streams go to the
// relay (not to the groups' publish rules: a stream played out of a group
// is not published into one again).
func (d *Daemon) startPlays(sg *serverGroup) error {
	for _, r := range sg.cfg.Play {
		app, inst, name := r.target()
		in, err := sg.g.PlayStream(r.Name, groupstream.IngestConfig{Registry: d.ns.Registry, App: app, Instance: inst, Name: name,
			Multicast: r.multicast(), OnPublish: d.relay.Publish, OnUnpublish: d.relay.Unpublish})
		if err != nil {
			return fmt.Errorf("group %s: play %q: %w", sg.cfg.Spec, r.Name, err)
		}
		sg.ingests = append(sg.ingests, ingest{rule: r, in: in})
		sg.log.Info("playing group stream into server stream", "name", r.Name, "stream", app+"/"+inst+"/"+name)
	}
	return nil
}

// ingest is a running play rule.
type ingest struct {
	rule GroupPlayRule
	in   *groupstream.Ingest
}

// IngestStatus describes a play rule at work.
type IngestStatus struct {
	Name   string `json:"name"`
	Stream string `json:"stream"`
	groupstream.IngestStats
	Multicast multicast.Stats `json:"multicast"`
}

func (sg *serverGroup) ingestStatus() []IngestStatus {
	var out []IngestStatus
	for _, i := range sg.ingests {
		app, inst, name := i.rule.target()
		out = append(out, IngestStatus{Name: i.rule.Name, Stream: app + "/" + inst + "/" + name,
			IngestStats: i.in.Stats(), Multicast: i.in.Playback().Stats()})
	}
	return out
}
