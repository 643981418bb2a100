"""Billing data of the supply market (design.md, purpose 2): capacity-tariff peaks, consumption per
tariff period, and net metering of legacy prosumers."""
