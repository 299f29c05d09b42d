"""Crawl a folder of exports: sniff, match to contracts, report drift."""

from insightflow.crawl.crawler import CrawlReport, FileReport, SniffedFile, crawl, crawl_file, sniff

__all__ = ["CrawlReport", "FileReport", "SniffedFile", "crawl", "crawl_file", "sniff"]
