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

// Script is a waiting-room script as a client other than go-redis runs it:
// its source and its KEYS for a course.
type Script struct {
	Src  string
	Keys func(r *Room, course int64, reply string) []string
}

// Scripts are the scripts a join, a status poll and an admitter's batch run.
var Scripts = map[string]Script{
	"join":     {joinScript.src, func(r *Room, c int64, rq string) []string { return r.keysOf(joinScript, c, rq) }},
	"status":   {statusScript.src, func(r *Room, c int64, rq string) []string { return r.keysOf(statusScript, c, rq) }},
	"seed":     {seedScript.src, func(r *Room, c int64, rq string) []string { return r.keysOf(seedScript, c, rq) }},
	"take":     {takeScript.src, func(r *Room, c int64, rq string) []string { return r.keysOf(takeScript, c, rq) }},
	"complete": {completeScript.src, func(r *Room, c int64, rq string) []string { return r.keysOf(completeScript, c, rq) }},
}
