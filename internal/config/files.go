package config

// SecretFiles lists the files the config's {file: PATH} secrets refer to,
// each once, so that a watcher can reload the config when one is rotated.
func (c *Config) SecretFiles() []string {
	var files []string
	seen := map[string]bool{}
	add := func(cr Credentials) {
		for _, s := range []Secret{cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken} {
			if s.File != "" && !seen[s.File] {
				seen[s.File] = true
				files = append(files, s.File)
			}
		}
	}
	add(c.Defaults.Credentials)
	for _, r := range c.Routes {
		add(r.Credentials)
	}
	for _, h := range c.Hosts {
		add(h.Credentials)
	}
	return files
}
