package waitroom

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var allScripts = map[string]script{
	"joinScript": joinScript, "statusScript": statusScript, "seedScript": seedScript,
	"leaveScript": leaveScript, "cancelledScript": cancelledScript, "cancelEnrolledScript": cancelEnrolledScript,
	"restoreEnrolledScript": restoreEnrolledScript, "freedScript": freedScript, "takeScript": takeScript,
	"completeScript": completeScript, "releaseScript": releaseScript, "probeScript": probeScript,
	"decidedScript": decidedScript,
}

// TestEveryScriptIsChecked: a script added to scripts.go is added here too.
func TestEveryScriptIsChecked(t *testing.T) {
	src, err := os.ReadFile("scripts.go")
	require.NoError(t, err)
	var declared []string
	for _, m := range regexp.MustCompile(`(?m)^var (\w+) = newScript\(`).FindAllStringSubmatch(string(src), -1) {
		declared = append(declared, m[1])
	}
	var checked []string
	for name := range allScripts {
		checked = append(checked, name)
	}
	slices.Sort(declared)
	slices.Sort(checked)
	assert.Equal(t, declared, checked)
}

var (
	keyUse     = regexp.MustCompile(`\bK\.(\w+)`)
	stateUse   = regexp.MustCompile(`\bST\.(\w+)`)
	stateQuote = regexp.MustCompile(`'[qifje]'`)
)

// TestScriptsUseOnlyTheirKeys: a script reads its keys by name (K.<name>)
// from the prelude built from the same list as the caller's KEYS, never by
// position; it uses every key it is given and no other; and it names states
// through ST, never by their letters.
func TestScriptsUseOnlyTheirKeys(t *testing.T) {
	for name, s := range allScripts {
		t.Run(name, func(t *testing.T) {
			p := prelude(s.keys)
			require.True(t, strings.HasPrefix(s.src, p), "the script starts with its prelude")
			body := strings.TrimPrefix(s.src, p)
			assert.NotContains(t, body, "KEYS[", "keys by name only")
			assert.NotContains(t, body, "redis.call('KEYS'", "no key lookups by pattern")

			var used []keyName
			for _, m := range keyUse.FindAllStringSubmatch(body, -1) {
				if k := keyName(m[1]); !slices.Contains(used, k) {
					used = append(used, k)
				}
			}
			for _, k := range used {
				assert.Contains(t, s.keys, k, "K.%s is not among the keys the caller passes", k)
			}
			for _, k := range s.keys {
				assert.Contains(t, used, k, "key %s is passed but never used", k)
			}
			assert.Len(t, s.keys, len(slicesCompact(s.keys)), "a key passed twice")

			for _, m := range stateUse.FindAllStringSubmatch(body, -1) {
				assert.Contains(t, []string{"queued", "inflight", "full", "offered", "enrolled"}, m[1])
			}
			assert.Empty(t, stateQuote.FindAllString(body, -1), "states through ST only")
		})
	}
}

func slicesCompact(keys []keyName) []keyName {
	c := slices.Clone(keys)
	slices.Sort(c)
	return slices.Compact(c)
}

// TestKeyLayout: the Redis names of the keys are a contract between the
// instances of a fleet (docs/app.md lists them): every key of a course
// carries the course id as its hash tag.
func TestKeyLayout(t *testing.T) {
	r := New(nil, "surge:", nil)
	tests := []struct {
		k     keyName
		reply string
		want  string
	}{
		{keySeq, "", "surge:c:{7}:seq"},
		{keyHi, "", "surge:c:{7}:hi"},
		{keyState, "", "surge:c:{7}:st"},
		{keyTicket, "", "surge:c:{7}:tk"},
		{keyQueue, "", "surge:c:{7}:q"},
		{keyInFlight, "", "surge:c:{7}:i"},
		{keyFull, "", "surge:c:{7}:f"},
		{keyFromFull, "", "surge:c:{7}:fi"},
		{keyLease, "", "surge:c:{7}:lease"},
		{keyLeaseRequest, "", "surge:c:{7}:leaserq"},
		{keyFreed, "", "surge:c:{7}:freed"},
		{keyLost, "", "surge:c:{7}:lost"},
		{keyReply, "ab-1", "surge:c:{7}:rq:ab-1"},
		{keyReply, "done:42", "surge:c:{7}:rq:done:42"},
		{keySeqLock, "", "surge:c:{7}:seqlock"},
		{keyProgress, "", "surge:c:{7}:progress"},
		{keyRooms, "", "surge:rooms"},
		{keySweep, "", "surge:sweep"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, r.key(7, tt.k, tt.reply))
	}
}

// hashTag is the part of a key Redis Cluster hashes to pick its slot: the
// text between the first '{' and the next '}' when not empty, else the
// whole key (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// TestEveryCourseKeyHasTheCourseTag: every key a script of a course is given,
// the course's other keys and its progress channel hash to the course id
// alone, so they share one cluster slot whatever the prefix; the shared keys
// never appear in a script.
func TestEveryCourseKeyHasTheCourseTag(t *testing.T) {
	for _, prefix := range []string{"surge:", "t12:", "a:b:", ""} {
		r := New(nil, prefix, nil)
		for _, course := range []int64{1, 7, 123456789} {
			want := strconv.FormatInt(course, 10)
			for name, s := range allScripts {
				assert.NotContains(t, s.keys, keyRooms, name)
				assert.NotContains(t, s.keys, keySweep, name)
				for _, k := range r.keysOf(s, course, "ab-1") {
					assert.Equal(t, want, hashTag(k), "%s: key %s", name, k)
				}
			}
			for _, k := range []keyName{keySeqLock, keyProgress, keyReply} {
				assert.Equal(t, want, hashTag(r.key(course, k, "done:1")), "%s of course %d", k, course)
			}
		}
	}
}

// TestKeysOfFollowsTheDeclaredOrder: KEYS[n] is the n-th declared key.
func TestKeysOfFollowsTheDeclaredOrder(t *testing.T) {
	r := New(nil, "p:", nil)
	for name, s := range allScripts {
		keys := r.keysOf(s, 3, "x")
		require.Len(t, keys, len(s.keys), name)
		for n, k := range s.keys {
			assert.Equal(t, r.key(3, k, "x"), keys[n], "%s KEYS[%d]", name, n+1)
			assert.Contains(t, s.src, string(k)+" = KEYS["+strconv.Itoa(n+1)+"]", "%s prelude", name)
		}
	}
}
