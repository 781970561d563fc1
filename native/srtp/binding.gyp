{
  "targets": [
    {
      "target_name": "srtp",
      "sources": ["srtp.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
