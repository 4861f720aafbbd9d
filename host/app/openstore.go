package app

import (
	"context"

	"leadhost/store"
	"leadhost/store/postgres"
)

// openStore opens the store cfg names: PostgreSQL at cfg.DatabaseURL
// when set, else Badger in cfg.Data (in memory with cfg.InMemory).
func openStore(ctx context.Context, cfg Config, opts store.Options) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return postgres.Open(ctx, cfg.DatabaseURL, opts)
	}
	st, err := store.Open(opts)
	if err != nil {
		return nil, DescribeOpen(cfg.Data, err)
	}
	return st, nil
}
