{
  "variables": {
    "vigil_corosync%": "<!(sh -c 'for h in votequorum.h cmap.h corotypes.h; do test -f /usr/include/corosync/$h || { echo 0; exit; }; done; echo 1')"
  },
  "targets": [
    {
      "target_name": "vigil_native",
      "sources": ["src/native/vigil_native.cc", "src/native/hmac.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong"],
      "ldflags": ["-Wl,-z,relro", "-Wl,-z,now"]
    }
  ],
  "conditions": [
    ["vigil_corosync==1", {
      "targets": [
        {
          "target_name": "vigil_corosync",
          "sources": ["src/native/corosync.cc"],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
          "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong"],
          "ldflags": ["-Wl,-z,relro", "-Wl,-z,now"],
          "libraries": ["-lvotequorum", "-lcmap", "-lcorosync_common"]
        }
      ]
    }]
  ]
}
