package server

import (
	"github.com/rtmfpd/rtmfpd/relay"
	"github.com/rtmfpd/rtmfpd/server/metrics"
)

// samples are the server's Prometheus metrics (README "Metrics").
func (d *Daemon) samples() []metrics.Sample {
	var out []metrics.Sample
	add := func(kind metrics.Kind, name, help string, v float64, labels ...string) {
		s := metrics.Sample{Name: "rtmfpd_" + name, Help: help, Kind: kind, Value: v}
		for i := 0; i+1 < len(labels); i += 2 {
			s.Labels = append(s.Labels, metrics.Label{Name: labels[i], Value: labels[i+1]})
		}
		out = append(out, s)
	}
	gauge := func(name, help string, v float64, labels ...string) { add(metrics.Gauge, name, help, v, labels...) }
	counter := func(name, help string, v uint64, labels ...string) {
		add(metrics.Counter, name, help, float64(v), labels...)
	}

	// Sessions and handshakes.
	var rtmfpSessions int
	var ep struct {
		in, out, accepted, initiated, short, unknown, inbox, bad, badStartup, unknownTag, rate, epd, cookie, limit, queue, keying, acceptQ uint64
	}
	for _, e := range d.endpoints {
		st := e.Stats()
		rtmfpSessions += st.Sessions
		ep.in += st.PacketsIn
		ep.out += st.PacketsOut
		ep.accepted += st.HandshakesResponder
		ep.initiated += st.HandshakesInitiator
		ep.short += st.DropShort
		ep.unknown += st.DropUnknownSession
		ep.inbox += st.DropInboxFull
		ep.bad += st.BadPackets
		ep.badStartup += st.DropBadStartup
		ep.unknownTag += st.DropUnknownTag
		ep.rate += st.DropRateLimited
		ep.epd += st.DropRefusedEPD
		ep.cookie += st.DropBadCookie
		ep.limit += st.DropSessionLimit
		ep.queue += st.DropHandshakeQueue
		ep.keying += st.DropKeying
		ep.acceptQ += st.DropAcceptQueue
	}
	gauge("sessions", "RTMFP sessions and RTMP connections open.", float64(rtmfpSessions), "proto", "rtmfp")
	const hs, hsHelp = "handshakes_total", "RTMFP handshakes by outcome."
	counter(hs, hsHelp, ep.accepted, "outcome", "accepted")
	counter(hs, hsHelp, ep.initiated, "outcome", "initiated")
	counter(hs, hsHelp, ep.rate, "outcome", "rate_limited")
	counter(hs, hsHelp, ep.cookie, "outcome", "bad_cookie")
	counter(hs, hsHelp, ep.limit, "outcome", "session_limit")
	counter(hs, hsHelp, ep.queue, "outcome", "queue_full")
	counter(hs, hsHelp, ep.keying, "outcome", "keying_failed")
	counter(hs, hsHelp, ep.badStartup, "outcome", "bad_startup")
	counter(hs, hsHelp, ep.epd, "outcome", "refused_url")
	counter(hs, hsHelp, ep.acceptQ, "outcome", "accept_queue_full")
	const dr, drHelp = "drops_total", "RTMFP datagrams dropped, by reason."
	counter(dr, drHelp, ep.short, "reason", "short")
	counter(dr, drHelp, ep.unknown, "reason", "unknown_session")
	counter(dr, drHelp, ep.inbox, "reason", "inbox_full")
	counter(dr, drHelp, ep.bad, "reason", "bad_packet")
	counter(dr, drHelp, ep.unknownTag, "reason", "unknown_tag")
	counter("packets_total", "RTMFP datagrams.", ep.in, "direction", "in")
	counter("packets_total", "RTMFP datagrams.", ep.out, "direction", "out")
	in, outB := d.sessions.bytes()
	counter("bytes_total", "Bytes received and sent by client sessions.", in, "proto", "rtmfp", "direction", "in")
	counter("bytes_total", "Bytes received and sent by client sessions.", outB, "proto", "rtmfp", "direction", "out")
	if d.rtmp != nil {
		st := d.rtmp.Stats()
		gauge("sessions", "RTMFP sessions and RTMP connections open.", float64(st.Active), "proto", "rtmp")
		const rc, rcHelp = "rtmp_connections_total", "RTMP connections by outcome."
		counter(rc, rcHelp, st.Accepted, "outcome", "accepted")
		counter(rc, rcHelp, st.Refused, "outcome", "refused")
		counter(rc, rcHelp, st.HandshakeFailures, "outcome", "handshake_failed")
		counter(rc, rcHelp, st.ProtocolErrors, "outcome", "protocol_error")
		counter("bytes_total", "Bytes received and sent by client sessions.", st.BytesIn, "proto", "rtmp", "direction", "in")
		counter("bytes_total", "Bytes received and sent by client sessions.", st.BytesOut, "proto", "rtmp", "direction", "out")
	}

	if d.flv != nil {
		st := d.flv.Stats()
		gauge("sessions", "RTMFP sessions and RTMP connections open.", float64(st.Active), "proto", "http-flv")
		counter("bytes_total", "Bytes received and sent by client sessions.", st.BytesOut, "proto", "http-flv", "direction", "out")
		const fr, frHelp = "flv_requests_total", "HTTP-FLV requests by outcome."
		counter(fr, frHelp, st.Played, "outcome", "played")
		counter(fr, frHelp, st.Refused, "outcome", "refused")
	}

	// NetConnections and streams.
	ns := d.ns.Stats()
	counter("connects_total", "NetConnection connects by outcome.", ns.Connects, "outcome", "accepted")
	counter("connects_total", "NetConnection connects by outcome.", ns.Rejects, "outcome", "rejected")
	pubs := map[string]int{"rtmfp": 0, "rtmp": 0}
	plays := map[string]int{"rtmfp": 0, "rtmp": 0}
	for _, c := range d.ns.Conns() {
		p, pl := c.StreamCounts()
		proto := c.Transport().Protocol()
		pubs[proto] += p
		plays[proto] += pl
	}
	for proto, n := range pubs {
		gauge("publishers", "Client NetStreams publishing, by protocol.", float64(n), "proto", proto)
		gauge("players", "Client NetStreams playing, by protocol.", float64(plays[proto]), "proto", proto)
	}
	gauge("streams", "Live streams (published or awaited by players).", float64(len(d.ns.Registry.Streams())))

	// Introductions and groups.
	is := d.intro.Stats()
	counter("introductions_total", "Peer introductions by outcome.", is.Introductions, "outcome", "introduced")
	counter("introductions_total", "Peer introductions by outcome.", is.UnknownTargets, "outcome", "unknown_target")
	counter("introductions_total", "Peer introductions by outcome.", is.RateLimited, "outcome", "rate_limited")
	gauge("groups", "NetGroups with members.", float64(is.Groups))
	gauge("group_members", "Members of all NetGroups.", float64(is.Members))
	counter("group_joins_total", "NetGroup joins by outcome.", is.Joins, "outcome", "joined")
	counter("group_joins_total", "NetGroup joins by outcome.", is.RefusedJoins, "outcome", "refused")
	for _, g := range d.groupStatus() {
		for _, s := range g.Streams {
			m := s.MulticastInfo
			l := []string{"group", g.GroupID, "stream", s.Name}
			counter("group_stream_bytes_pushed_total", "Group stream media bytes pushed to peers (multicastInfo.bytesPushedToPeers).", m.BytesPushedToPeers, l...)
			counter("group_stream_bytes_requested_total", "Group stream media bytes sent for peers' pulls (multicastInfo.bytesRequestedByPeers).", m.BytesRequestedByPeers, l...)
			counter("group_stream_fragments_pushed_total", "Group stream fragments pushed to peers.", m.FragmentsPushedToPeers, l...)
			counter("group_stream_fragments_requested_total", "Group stream fragments sent for peers' pulls.", m.FragmentsRequestedByPeers, l...)
			gauge("group_stream_neighbors", "Neighbours of a group stream.", float64(m.Neighbors), l...)
			gauge("group_stream_send_bytes_per_second", "Group stream send rate (multicastInfo.sendDataBytesPerSecond).", m.SendDataBytesPerSecond, l...)
			if ip := s.IPMulticastSent; ip != nil {
				counter("group_stream_ip_multicast_datagrams_total", "Datagrams a group stream sent to native IP multicast.", ip.Datagrams, l...)
				counter("group_stream_ip_multicast_send_errors_total", "Failed sends of a group stream to native IP multicast.", ip.Errors, l...)
			}
		}
	}

	// Relay targets by state.
	states := map[string]int{relay.StateConnecting: 0, relay.StatePublishing: 0, relay.StateRetrying: 0,
		relay.StateFailed: 0, relay.StateDraining: 0}
	for _, t := range d.relay.Status() {
		states[t.State]++
	}
	for st, n := range states {
		gauge("relay_targets", "Relay targets by state.", float64(n), "state", st)
	}

	// Control.
	hs2 := d.ctl.http.Stats()
	counter("hook_reports_total", "HTTP callback reports (the done hooks) by outcome.", hs2.Sent, "outcome", "sent")
	counter("hook_reports_total", "HTTP callback reports (the done hooks) by outcome.", hs2.Dropped, "outcome", "dropped")
	counter("config_reloads_total", "Configuration reloads applied.", d.reloads.Load())
	d.clusterSamples(gauge, counter)
	return out
}
