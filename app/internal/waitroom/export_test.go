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

// Key is the Redis name of a course's key (scripts.go lists the names).
func (r *Room) Key(course int64, name string) string { return r.key(course, keyName(name), "") }
