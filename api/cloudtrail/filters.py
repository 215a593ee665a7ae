"""Filters on lists of API calls (service, API name, error, source IP): typed values in, a SQL
condition over cloudtrail_events with bound parameters out."""

from __future__ import annotations

from dataclasses import dataclass

AWS_DOMAIN = ".amazonaws.com"


@dataclass(frozen=True)
class CallFilter:
    # "s3" or "s3.amazonaws.com"
    service: str | None = None
    # eventName, exactly (e.g. GetObject)
    name: str | None = None
    # True: failed calls only; False: successful calls only; None: both
    errored: bool | None = None
    # errorCode, exactly (e.g. AccessDenied); implies failed calls
    error_code: str | None = None
    # sourceIPAddress, exactly (an address or a service name such as ec2.amazonaws.com)
    source_ip: str | None = None
    # any of these sourceIPAddresses (a finding's remote addresses)
    source_ips: tuple[str, ...] = ()

    def sql(self, params: dict[str, object]) -> str:
        """The condition (`1` when nothing is filtered); adds its bound parameters to `params`."""
        where = []
        if self.service:
            service = self.service if self.service.endswith(AWS_DOMAIN) else self.service + AWS_DOMAIN
            where.append("event_source = {f_service:String}")
            params["f_service"] = service
        if self.name:
            where.append("event_name = {f_name:String}")
            params["f_name"] = self.name
        if self.errored is True:
            where.append("error_code != ''")
        elif self.errored is False:
            where.append("error_code = ''")
        if self.error_code:
            where.append("error_code = {f_error:String}")
            params["f_error"] = self.error_code
        if self.source_ip:
            where.append("source_ip_address = {f_ip:String}")
            params["f_ip"] = self.source_ip
        if self.source_ips:
            where.append("source_ip_address IN {f_ips:Array(String)}")
            params["f_ips"] = list(self.source_ips)
        return " AND ".join(where) or "1"
