"""The simulator's control API for runme.sh: state, install or clear faults (reads integration_config.yml)."""

import json
import ssl
import sys
import urllib.request

import yaml


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    context = ssl.create_default_context(cafile=config["em_ca_path"])
    command = sys.argv[2]
    if command == "state":
        request = urllib.request.Request(config["em_control_url"] + "/state")
    elif command == "faults":
        request = urllib.request.Request(config["em_control_url"] + "/faults", method="POST", data=sys.argv[3].encode("utf-8"),
                                         headers={"Content-Type": "application/json"})
    else:
        request = urllib.request.Request(config["em_control_url"] + "/faults", method="DELETE")
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        answer = json.loads(response.read().decode("utf-8"))
    if command == "state":
        print("%d %d %d %d" % (answer["open_sessions"], answer["logons"], answer["logoffs"], answer["requests"].get("query", 0)))


if __name__ == "__main__":
    main()
