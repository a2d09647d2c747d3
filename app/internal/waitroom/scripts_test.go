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
	"completeScript": completeScript, "releaseScript": releaseScript, "sweepScript": sweepScript,
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

// TestKeysKeepTheirNames: the Redis names of the keys are what instances
// of the previous release use, so a rolling update shares one waiting room.
func TestKeysKeepTheirNames(t *testing.T) {
	r := New(nil, "surge:", nil)
	tests := []struct {
		k     keyName
		reply string
		want  string
	}{
		{keySeq, "", "surge:c:7:seq"},
		{keyHi, "", "surge:c:7:hi"},
		{keyState, "", "surge:c:7:st"},
		{keyTicket, "", "surge:c:7:tk"},
		{keyQueue, "", "surge:c:7:q"},
		{keyInFlight, "", "surge:c:7:i"},
		{keyFull, "", "surge:c:7:f"},
		{keyFromFull, "", "surge:c:7:fi"},
		{keyLease, "", "surge:c:7:lease"},
		{keyLeaseRequest, "", "surge:c:7:leaserq"},
		{keyFreed, "", "surge:c:7:freed"},
		{keyLost, "", "surge:c:7:lost"},
		{keyReply, "ab-1", "surge:c:7:rq:ab-1"},
		{keyReply, "done:42", "surge:c:7:rq:done:42"},
		{keyActive, "", "surge:active"},
		{keyWaiting, "", "surge:waiting"},
		{keySweep, "", "surge:sweep"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, r.key(7, tt.k, tt.reply))
	}
	// The sweep script builds the freed key from its arguments.
	assert.Equal(t, "surge:c:7:freed", r.coursePrefix()+"7"+":"+string(keyFreed))
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
