"""Call an emulated camera with a real ONVIF client (onvif-zeep-async) and print JSON.

usage: onvif_client.py HOST PORT USER PASSWORD
"""
import asyncio
import json
import sys

from onvif import ONVIFCamera


async def main(host: str, port: int, user: str, password: str) -> None:
    cam = ONVIFCamera(host, port, user, password)
    await cam.update_xaddrs()
    dev = await cam.create_devicemgmt_service()
    info = await dev.GetDeviceInformation()
    scopes = await dev.GetScopes()
    out = {
        "Manufacturer": info.Manufacturer,
        "Model": info.Model,
        "FirmwareVersion": info.FirmwareVersion,
        "SerialNumber": info.SerialNumber,
        "HardwareId": info.HardwareId,
        "Scopes": [s.ScopeItem for s in scopes],
    }
    await cam.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
