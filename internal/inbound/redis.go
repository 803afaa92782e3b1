package inbound

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore keeps token buckets in Redis, so every signway replica draws
// from the same bucket per caller. The bucket is refilled and taken from
// in one Lua script, atomically, on Redis's own clock (TIME), so replicas
// whose clocks differ still agree.
type RedisStore struct {
	client *redis.Client
}

// Bounds of one store call: a rate limit must not become the slowest part
// of a request when Redis is slow or gone; past them the call fails and
// the request is served or refused as rate_limits.on_store_error says.
const (
	redisDialTimeout = 250 * time.Millisecond
	redisIOTimeout   = 250 * time.Millisecond
)

// NewRedisStore connects lazily to a redis:// or rediss:// URL.
func NewRedisStore(rawURL string) (*RedisStore, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rate_limits.store: %w", err)
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = redisDialTimeout, redisIOTimeout, redisIOTimeout
	o.MaxRetries = -1 // no retries: the answer is needed now
	o.DialerRetries = 1
	quietRedis.Do(func() { redis.SetLogger(discardLogging{}) })
	o.ContextTimeoutEnabled = true
	return &RedisStore{client: redis.NewClient(o)}, nil
}

// quietRedis: go-redis logs every failed dial through a process-wide
// logger to stderr; signway says it once a minute through its own logger
// (Limiters.storeFailed) and counts it in a metric instead.
var quietRedis sync.Once

type discardLogging struct{}

func (discardLogging) Printf(context.Context, string, ...any) {}

// Close closes the connections.
func (s *RedisStore) Close() error { return s.client.Close() }

// takeScript: KEYS[1] the bucket; ARGV[1] the rate per second, ARGV[2] the
// burst. Returns {1, 0} when a token was taken, else {0, ms to wait}.
var takeScript = redis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
  ts = now
end
local ok, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {ok, wait}
`)

// Take implements Store.
func (s *RedisStore) Take(ctx context.Context, key string, rate float64, burst int, _ time.Time) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisDialTimeout+redisIOTimeout)
	defer cancel()
	res, err := takeScript.Run(ctx, s.client, []string{key}, rate, burst).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("redis rate limit: %w", err)
	}
	if len(res) != 2 {
		return false, 0, errors.New("redis rate limit: unexpected script answer")
	}
	return res[0] == 1, time.Duration(res[1]) * time.Millisecond, nil
}
