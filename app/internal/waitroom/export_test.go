package waitroom

// ScriptHashes name the scripts' SHA-1 digests (EVALSHA), for tests that
// inject faults on one script's round trip.
var ScriptHashes = map[string]string{
	"join":     joinScript.Hash(),
	"take":     takeScript.Hash(),
	"complete": completeScript.Hash(),
	"leave":    leaveScript.Hash(),
	"release":  releaseScript.Hash(),
}
