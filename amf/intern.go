package amf

// commonNames are strings that recur in NetConnection and NetStream
// messages: command names, connect and status object keys, status levels and
// onMetaData keys. Decoders return these shared copies instead of allocating
// a new string each time.
var commonNames = func() map[string]string {
	names := []string{
		// Commands and data handlers.
		"connect", "_result", "_error", "onStatus", "close", "createStream", "deleteStream",
		"closeStream", "publish", "play", "play2", "pause", "seek", "receiveAudio", "receiveVideo",
		"setPeerInfo", "initStream", "getStreamLength", "FCPublish", "FCUnpublish", "releaseStream",
		"onBWDone", "@setDataFrame", "@clearDataFrame", "onMetaData", "|RtmpSampleAccess", "live",
		// connect command object.
		"app", "flashVer", "swfUrl", "tcUrl", "fpad", "capabilities", "audioCodecs", "videoCodecs",
		"videoFunction", "pageUrl", "objectEncoding", "capsEx", "fourCcList", "audioFourCcInfoMap",
		"videoFourCcInfoMap", "type",
		// Info objects.
		"level", "code", "description", "details", "clientid", "status", "error", "warning",
		"connectionID", "serverFingerprint", "data", "version", "fmsVer", "mode",
		// onMetaData.
		"duration", "width", "height", "videodatarate", "framerate", "videocodecid", "audiodatarate",
		"audiosamplerate", "audiosamplesize", "stereo", "audiocodecid", "encoder", "filesize",
		"audiochannels", "creationdate", "hasAudio", "hasVideo", "hasMetadata", "canSeekToEnd",
		"keyframes", "filepositions", "times", "lasttimestamp", "metadatacreator",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = n
	}
	return m
}()

// makeString returns p as a string, sharing the common names.
func makeString(p []byte) string {
	if s, ok := commonNames[string(p)]; ok {
		return s
	}
	return string(p)
}
