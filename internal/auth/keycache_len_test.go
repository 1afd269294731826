package auth

func keyCacheLen(a *KeyAuthenticator) int {
	a.cache.CleanUp()
	return a.cache.EstimatedSize()
}
