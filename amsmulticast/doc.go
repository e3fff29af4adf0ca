// Package amsmulticast reads and writes what Adobe Media Server's multicast
// service exchanged with its encoders and players, so that sites that ran
// it (Flash Media Server 4 / AMS 5, rootinstall/applications/multicast)
// move to rtmfpd without changing their stream names or manifests:
//
//   - [Parse] reads the multicast event's settings that the multicast
//     configurator put in the stream name's query for Flash Media Live
//     Encoder (livestream?fms.multicast.type=3&fms.multicast.groupspec=…);
//   - [Manifest] is the F4M manifest the configurator wrote for the event's
//     players (OSMF, Strobe Media Playback, the AMS multicast player).
//
// The package has no I/O: the server (package server, its multicast
// service) joins the group and republishes the stream.
//
// # What the sources say
//
// Found with this project's search tools (facts only, nothing copied):
//
//   - Adobe Media Server developer guide, "Multicast media (RTMFP) / About
//     the multicast service"
//     (help.adobe.com/en_US/adobemediaserver/devguide/WS7812b00092aae0dc-2829dcd012a54a3ed1a-8000.2.3.html):
//     the solution's parts (configurator, Flash Media Live Encoder, the
//     multicast service, the multicast player); the configurator puts the
//     event's settings in the query of the stream name FMLE publishes and
//     writes a manifest.f4m; the event types are fusion (IP and P2P
//     together), IP multicast, peer to peer, and peer to peer with peer
//     discovery.
//   - The service's main.asc (its opening, as the code index holds it; no
//     repository named): it takes FMLE's publishes and republishes each
//     into the target group; the types are numbered 1 fusion, 2 IP
//     multicast, 3 peer to peer.
//   - OSMF's multicast sample (github.com/MibuWolf/OSMF,
//     OSMF_MulticastSample/src/OSMF_MulticastSample.as): the FMLE stream
//     name is livestream?fms.multicast.type=3&fms.multicast.groupspec= and
//     the ActionScript escape() of groupspecWithAuthorizations(), published
//     to rtmfp://server/multicast (and rtmp://…/multicast for FMLE).
//   - A player app (find_string "fms.multicast"): RTMP players of the
//     multicast application use rtmp://host/multicast/name?fms.multicast.type=3
//     (the query is not part of the stream's name).
//   - OSMF developer guide, "Using RTMFP multicasting"
//     (help.adobe.com/en_US/OSMF/1.0/Dev/WSc6f922f643dd2e6d-ac2daa912a39568489-7ffe.html):
//     the FMS 4.0.0 configurator wrote the media attributes rtmfpGroupspec
//     and rtmfpStreamName, which OSMF names groupspec and multicastStreamName.
//   - OSMF's F4M parser (github.com/willwh/osmf,
//     framework/OSMF/org/osmf/elements/f4mClasses/ManifestParser.as and
//     MediaParser.as): namespace http://ns.adobe.com/f4m/1.0; id,
//     streamType, baseURL; a media element needs url; groupspec and
//     multicastStreamName must come together; an absolute rtmfp url makes
//     a MulticastResource of the manifest's streamType. OSMF 1.5's
//     MulticastNetLoader read rtmfpGroupspec and rtmfpStreamName.
//   - Strobe Media Playback's configuration and Kaltura's RTMFP live
//     configuration use the same two names, groupspec and
//     multicastStreamName.
//
// # What they do not say, and what this package chooses
//
// The parameters beyond fms.multicast.type and fms.multicast.groupspec
// (the IP multicast address for fusion and IP multicast events, the
// interface, the multicast properties) and the manifest's exact text could
// not be found: the rest of main.asc, the configurator and a manifest it
// wrote are in no index available here. So:
//
//   - parameter names are matched without regard to case;
//   - the IP multicast address is fms.multicast.address, as
//     setIPMulticastPublishAddress takes it ("224.0.0.254:30000",
//     "[ff03::ffff]:30000"), with the port in it or in fms.multicast.port;
//     without one, a fusion or IP multicast event uses the first IP
//     multicast address its groupspec lists (addIPMulticastAddress), which
//     is where its players listen;
//   - fms.multicast.interface names the outgoing interface;
//   - the multicast properties are fms.multicast.<property> with Flash's
//     NetStream property names, with or without their "multicast" prefix
//     (fms.multicast.windowDuration or fms.multicast.multicastWindowDuration),
//     numbers of seconds coerced as Flash coerces them;
//   - other fms.multicast.* parameters are reported in Request.Ignored, not
//     refused (the configurator may have written some we do not know);
//   - "peer to peer with peer discovery" is type 3 with a groupspec that
//     lists IP multicast addresses (for discovery only): the server does
//     not publish to IP multicast for type 3;
//   - the manifest carries both attribute sets on its one media element
//     (each parser ignores the other's), and the groupspec without its
//     authorizations: players must not get the publish password.
package amsmulticast
