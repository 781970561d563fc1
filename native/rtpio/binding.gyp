{
  "targets": [
    {
      "target_name": "rtpio",
      "sources": ["rtpio.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
