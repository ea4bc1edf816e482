"""HTTP controllers, one per aggregate: parse, call one service method, shape the response."""
